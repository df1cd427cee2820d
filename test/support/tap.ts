/**
 * A TCP tap: sits between the gateway and the target and records every byte the gateway
 * sends upstream, so a test can prove what did (or did not) reach the target.
 */
import net from 'node:net';

export interface Tap {
  readonly port: number;
  /** Every chunk the gateway sent to the target, in order. */
  readonly sent: Buffer[];
  close(): Promise<void>;
}

/** Listens on a free loopback port and relays each connection to `targetPort`. */
export async function startTap(targetPort: number): Promise<Tap> {
  const sent: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(inbound).add(outbound);
    inbound.on('data', (chunk: Buffer) => {
      sent.push(Buffer.from(chunk));
      outbound.write(chunk);
    });
    outbound.on('data', (chunk: Buffer) => inbound.write(chunk));
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    inbound.on('error', () => undefined);
    outbound.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sent,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
