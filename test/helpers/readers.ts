import { request as httpRequest, type IncomingMessage } from 'node:http';

/** A streaming chat request whose reader takes the first chunk and then stops reading (a stalled caller). */
export function pausedReader(baseUrl: string, model: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.once('data', () => {
        res.pause();
        resolve({ res, destroy: () => req.destroy() });
      });
    });
    req.on('error', () => undefined);
    req.once('error', reject);
    req.end(JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'big' }] }));
  });
}
