/** Types for the parts of logic-solver (MiniSat in asm.js, CommonJS) that the resolver uses. */
/* eslint-disable @typescript-eslint/no-unused-vars */
declare module 'logic-solver' {
  /** A variable: its name, or its number (negative for "not"). */
  type Term = string | number;
  interface Formula {
    readonly __formula: true;
  }
  type Operand = Term | Formula | Operand[];
  interface Solution {
    evaluate(f: Term | Formula): boolean;
    getTrueVars(): string[];
  }
  class Solver {
    getVarNum(name: string, noCreate?: boolean): number;
    require(...f: Operand[]): void;
    forbid(...f: Operand[]): void;
    solve(): Solution | null;
    solveAssuming(f: Term | Formula): Solution | null;
  }
  const Logic: {
    Solver: typeof Solver;
    or(...f: Operand[]): Formula;
    and(...f: Operand[]): Formula;
    not(f: Term | Formula): Formula;
    implies(a: Operand, b: Operand): Formula;
    atMostOne(...f: Operand[]): Formula;
    disablingAssertions<T>(f: () => T): T;
    TRUE: Term;
    FALSE: Term;
  };
  export default Logic;
}
