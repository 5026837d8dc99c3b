'use strict';
// The networked atom's program: it uses its two npm dependencies, so the build proves they arrived.
const ms = require('ms');
const isNumber = require('is-number');

const lines = ['2 days', '1h', '90s'].map((t) => `${t} = ${ms(t)} ms`);
lines.push(`is-number(42) = ${isNumber(42)}; is-number("x") = ${isNumber('x')}`);
console.log(lines.join('\n'));
