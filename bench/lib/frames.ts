/** A V8 profile's call frame (cpuprofile nodes and sampling heap profile nodes share it). */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/** A gateway folder (dist/gateway/stages → gateway/stages), an npm package, a node: module, or a V8 pseudo-frame. */
export function moduleOf(f: CallFrame): string {
  const u = f.url;
  if (u === '') return `(${f.functionName || 'native'})`;
  if (u.includes('node_modules/')) {
    const parts = (u.split('node_modules/').pop() ?? '').split('/');
    return `npm ${parts[0]?.startsWith('@') === true ? parts.slice(0, 2).join('/') : (parts[0] ?? '')}`;
  }
  if (u.includes('/dist/')) return (u.split('/dist/').pop() ?? '').split('/').slice(0, 2).join('/');
  return u.startsWith('node:') ? u : u.replace(/.*\//, '');
}

/** `function file:line`, the file relative to node_modules or dist. */
export const frameName = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, '')}:${f.lineNumber + 1}`;
