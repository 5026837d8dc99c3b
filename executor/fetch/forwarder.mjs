// The fetch namespace's forwarder (specs/fetch.md §4): run by the host's node inside the fetch's
// network namespace (outside the sandbox), it listens on 127.0.0.1:PORT there and pipes each
// connection to the fetch proxy's unix socket on the host (a path-named socket is reachable from
// any network namespace). It prints `ready` once listening and exits when its parent (the
// namespace's shell) is gone.
// Usage: node forwarder.mjs SOCKET PORT
import * as net from 'node:net';

const [socketPath, portText] = process.argv.slice(2);
const port = Number(portText);
if (!socketPath || !Number.isInteger(port)) {
  process.stderr.write('usage: forwarder.mjs SOCKET PORT\n');
  process.exit(2);
}
const parent = process.ppid;
const server = net.createServer((c) => {
  const up = net.connect(socketPath);
  c.pipe(up).pipe(c);
  const end = () => {
    c.destroy();
    up.destroy();
  };
  c.on('error', end).on('close', end);
  up.on('error', end).on('close', end);
});
server.on('error', (e) => {
  process.stderr.write(`eos fetch forwarder: ${e.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 250);
