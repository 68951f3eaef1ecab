import net from 'node:net';

/**
 * Preloaded into the Portkey gateway (`node --import`): its start-server calls
 * `serve({ port })` with no host, so it would listen on every interface. This binds any
 * listen without a host to 127.0.0.1 and prints the bound address for the bench to read.
 */
type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
const listen: Listen = Reflect.get(net.Server.prototype, 'listen') as Listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]): net.Server {
  const [first] = args;
  if (typeof first === 'number' || typeof first === 'string') {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  } else if (typeof first === 'object' && first !== null && !('host' in first) && !('path' in first)) {
    args[0] = { ...first, host: '127.0.0.1' };
  }
  this.once('listening', () => {
    const a = this.address();
    if (a !== null && typeof a === 'object') process.stderr.write(`portkey listening on http://${a.address}:${a.port}\n`);
  });
  return listen.apply(this, args);
};
