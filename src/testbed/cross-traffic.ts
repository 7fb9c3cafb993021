/**
 * Bounded cross traffic, as the paper made with iperf: one TCP flow between the testbed's
 * namespaces that stops by itself. Runs as its own process, started by `startCongestion` through
 * `ip netns exec`; it imports nothing but Node so that it starts fast.
 *
 *   node cross-traffic.js recv HOST PORT SECONDS          (in the destination namespace)
 *   node cross-traffic.js send HOST PORT SECONDS RATE|max (in the source namespace; RATE in bit/s)
 *
 * The receiver prints one JSON line `{"event":"result","bytes":..,"seconds":..,"bitsPerSec":..}`
 * when the flow ends. Both sides exit at the latest `HARD_STOP_SLACK_S` seconds after SECONDS.
 */
import net from 'node:net';

/** Seconds past the requested duration after which either side exits no matter what. */
const HARD_STOP_SLACK_S = 8;
/** How long the sender keeps retrying while the receiver is still starting, in ms. */
const CONNECT_RETRY_MS = 5000;
/** Pacing tick of the rate-limited sender, in ms. */
const TICK_MS = 5;
const CHUNK_BYTES = 16 * 1024;

function say(obj: object): void {
  try {
    process.stdout.write(JSON.stringify(obj) + '\n');
  } catch {
    // Nobody is listening (a detached flow): the traffic is what matters.
  }
}

function hardStop(seconds: number): void {
  setTimeout(() => process.exit(0), (seconds + HARD_STOP_SLACK_S) * 1000).unref();
}

function receive(host: string, port: number, seconds: number): void {
  hardStop(seconds + CONNECT_RETRY_MS / 1000);
  let bytes = 0;
  let first = 0;
  let last = 0;
  const server = net.createServer((conn) => {
    server.close(); // one flow per receiver
    conn.on('data', (b: Buffer) => {
      last = performance.now();
      if (bytes === 0) first = last;
      bytes += b.length;
    });
    const finish = (): void => {
      const s = bytes > 0 ? (last - first) / 1000 : 0;
      say({ event: 'result', bytes, seconds: s, bitsPerSec: s > 0 ? (bytes * 8) / s : 0 });
      process.exit(0);
    };
    conn.on('end', finish);
    conn.on('error', finish);
  });
  server.listen(port, host, () => say({ event: 'listening', port: (server.address() as net.AddressInfo).port }));
}

function send(host: string, port: number, seconds: number, rateBitsPerSec: number | null): void {
  hardStop(seconds + CONNECT_RETRY_MS / 1000);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a);
  const giveUpAt = Date.now() + CONNECT_RETRY_MS;
  const attempt = (): void => {
    const sock = net.connect(port, host);
    sock.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && Date.now() < giveUpAt) setTimeout(attempt, 100);
      else process.exit(1);
    });
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      sock.on('error', () => process.exit(1));
      pump(sock);
    });
  };
  const pump = (sock: net.Socket): void => {
    const t0 = performance.now();
    const endAt = t0 + seconds * 1000;
    let sent = 0;
    const stop = (): void => {
      clearInterval(timer);
      sock.end(() => process.exit(0));
    };
    const tick = (): void => {
      const now = performance.now();
      if (now >= endAt) return stop();
      let budget = rateBitsPerSec === null ? Infinity : ((now - t0) / 1000) * (rateBitsPerSec / 8) - sent;
      // Forgive debt beyond 100 ms of traffic, so a stall is not followed by a burst above the rate.
      const capBytes = rateBitsPerSec === null ? Infinity : Math.max(CHUNK_BYTES, rateBitsPerSec / 8 / 10);
      if (budget > capBytes) {
        sent += budget - capBytes;
        budget = capBytes;
      }
      // Like iperf -b over TCP: below the budget we send, under backpressure we wait for the socket.
      for (let left = budget; left >= CHUNK_BYTES || (rateBitsPerSec === null && left > 0); left -= CHUNK_BYTES) {
        sent += CHUNK_BYTES;
        if (!sock.write(chunk)) break;
      }
    };
    const timer = setInterval(tick, TICK_MS);
    sock.on('drain', tick);
    tick();
  };
  attempt();
}

const [role, host, portText, secondsText, rateText] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText);
if (!host || !(port >= 0 && port < 65536) || !(seconds > 0)) {
  process.stderr.write('usage: cross-traffic.js recv|send HOST PORT SECONDS [RATE|max]\n');
  process.exit(2);
}
if (role === 'recv') receive(host, port, seconds);
else if (role === 'send') send(host, port, seconds, rateText === undefined || rateText === 'max' ? null : Number(rateText));
else process.exit(2);
