// http1_probe.mjs: raw-socket clients that bash cannot be (a half-close, a reset), for
// test_server_http1.sh. Usage: node http1_probe.mjs SCENARIO PORT [N]
//   halfclose PATH N WAIT  sends N pipelined GETs of PATH, ends its input WAIT ms later,
//                     and reads nothing until a second after that (so that replies wait in
//                     the server), then reads to the close; prints
//                     "<whole replies> <statuses> <bytes left over>"
//   reset             sends a GET of /api/export/battles.json and 64 KB more, so that the
//                     server stops reading, then resets the connection half a second later
import net from 'node:net';

const [scenario, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);

// The whole replies at the start of data (Content-Length or chunked), and what is left.
function replies(data) {
  let pos = 0;
  const statuses = [];
  for (;;) {
    const end = data.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const head = data.subarray(pos, end).toString('latin1');
    const status = head.slice(9, 12);
    let next = end + 4;
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (cl) {
      next += Number(cl[1]);
      if (next > data.length) break;
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const last = data.indexOf('\r\n0\r\n\r\n', end);
      if (last < 0) break;
      next = last + 7;
    }
    statuses.push(status);
    pos = next;
  }
  return { statuses, left: data.length - pos };
}

const socket = net.connect(port, '127.0.0.1');
const chunks = [];
socket.on('data', (d) => chunks.push(d));
socket.on('error', () => {});
if (scenario === 'halfclose') {
  const [path, n, wait] = rest;
  socket.pause();
  socket.on('connect', () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(Number(n)));
    setTimeout(() => {
      socket.end();
      setTimeout(() => socket.resume(), 1000);
    }, Number(wait));
  });
  socket.on('close', () => {
    const { statuses, left } = replies(Buffer.concat(chunks));
    console.log(`${statuses.length} ${[...new Set(statuses)].join(',')} ${left}`);
  });
  setTimeout(() => { console.log('timeout'); process.exit(1); }, 20000).unref();
} else if (scenario === 'reset') {
  socket.on('connect', () => {
    socket.write('GET /api/export/battles.json HTTP/1.1\r\nHost: x\r\n\r\n' + 'X'.repeat(65536));
    setTimeout(() => { socket.resetAndDestroy(); console.log('reset'); }, 500);
  });
} else {
  console.error(`http1_probe: unknown scenario ${scenario}`);
  process.exit(2);
}
