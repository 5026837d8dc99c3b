// The networked atom's program: it uses its two npm dependencies, so the build proves they arrived.
import isNumber from 'is-number';
import ms from 'ms';

const lines = ['2 days', '1h', '90s'].map((t) => `${t} = ${ms(t)} ms`);
lines.push(`is-number(42) = ${isNumber(42)}; is-number("x") = ${isNumber('x')}`);
console.log(lines.join('\n'));
