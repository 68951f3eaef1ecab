/** What a newcomer can paste right after `npm start` / `keel demo`. */
export function printTryIt(address: string, routes: string[]): void {
  const model = routes.includes('chat') ? 'chat' : routes[0] ?? 'chat';
  const lines = [
    '',
    `Models (routes): ${routes.join(', ')}`,
    '',
    'Try it:',
    `  curl -s ${address}/v1/chat/completions -H 'content-type: application/json' \\`,
    `    -d '{"model":"${model}","messages":[{"role":"user","content":"Hello"}]}'`,
    '',
    `  curl -sN ${address}/v1/chat/completions -H 'content-type: application/json' \\`,
    `    -d '{"model":"${model}","stream":true,"messages":[{"role":"user","content":"Hello"}]}'`,
    '',
    `  curl -s ${address}/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\`,
    `    -d '{"model":"${model}","max_tokens":200,"messages":[{"role":"user","content":"Hello"}]}'`,
    '',
    'Or point an SDK at it:',
    `  new OpenAI({ baseURL: '${address}/v1', apiKey: 'any' })`,
    `  new Anthropic({ baseURL: '${address}', apiKey: 'any' })`,
    '',
    'Ctrl-C stops Keel.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}
