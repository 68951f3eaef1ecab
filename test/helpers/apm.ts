import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeRequest } from '../../collector/otlp/decode.js';

/** An OTLP/HTTP endpoint standing in for an APM: it decodes what it gets and keeps headers and span counts. */
export async function fakeApm(): Promise<{ url: string; server: Server; got: { headers: Record<string, string | string[] | undefined>; spans: number; traceIds: Set<string> } }> {
  const got = { headers: {} as Record<string, string | string[] | undefined>, spans: 0, traceIds: new Set<string>() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.headers = req.headers;
      const decoded = decodeRequest('traces', Buffer.concat(chunks), 'protobuf', req.headers['content-encoding'] === 'gzip');
      for (const rs of decoded.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) {
        got.spans++;
        got.traceIds.add(Buffer.from(s.traceId as Uint8Array).toString('hex'));
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, got };
}
