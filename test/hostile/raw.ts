import { connect } from 'node:net';

/** What a raw HTTP/1.1 exchange produced: the bytes the server sent, and when it closed the socket. */
export interface RawExchange {
  text: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connect to the server's close. */
  closedAfterMs: number;
  /** Bytes this client managed to write before the answer came. */
  sentBeforeAnswer: number;
}

export interface RawOptions {
  /** Written in order once connected. */
  chunks: (string | Buffer)[];
  /** Give up (and fail) if the server has not closed by then. */
  timeoutMs?: number;
  /** Close our side once a full response has arrived (keep-alive tests leave it open). */
  closeOnAnswer?: boolean;
}

/**
 * Speaks HTTP over a plain socket: the only way to send headers and then one byte of a body,
 * or a header no client library would send, and to see exactly when the server hangs up.
 */
export function rawExchange(url: string, opts: RawOptions): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    let sent = 0;
    let sentBeforeAnswer = -1;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server did not close within ${opts.timeoutMs ?? 5000} ms; got:\n${data.toString('latin1').slice(0, 500)}`));
    }, opts.timeoutMs ?? 5000);
    socket.on('connect', () => {
      for (const c of opts.chunks) {
        socket.write(c);
        sent += Buffer.byteLength(c);
      }
    });
    socket.on('data', (d: Buffer) => {
      if (sentBeforeAnswer === -1) sentBeforeAnswer = sent;
      data = Buffer.concat([data, d]);
      if (opts.closeOnAnswer === true && complete(data)) socket.end();
    });
    // A reset after the answer is still an answer (the server closed with our body unread).
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parse(data.toString('utf8')), closedAfterMs: Date.now() - started, sentBeforeAnswer });
    });
  });
}

function complete(data: Buffer): boolean {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
  return length !== null && data.length >= end + 4 + Number(length[1]);
}

function parse(text: string): Omit<RawExchange, 'closedAfterMs' | 'sentBeforeAnswer'> {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: end === -1 ? '' : text.slice(end + 4) };
}

export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
