/**
 * Connection counting for one listener: at most `maxConnections` open at once, and at most
 * `maxConnectionsPerIp` from one client address (the real one, after PROXY protocol). Counting happens
 * before the SMTP session (and for implicit TLS, before the handshake), so a flood costs us little.
 */

export type GateVerdict = 'open' | 'listener-full' | 'too-many-from-address';

export class ConnectionGate {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxConnectionsPerIp: number,
  ) {}

  /** Counts the connection in when the verdict is `open`; the caller must then `leave` exactly once. */
  enter(address: string): GateVerdict {
    if (this.total >= this.maxConnections) return 'listener-full';
    const current = this.perAddress.get(address) ?? 0;
    if (current >= this.maxConnectionsPerIp) return 'too-many-from-address';
    this.perAddress.set(address, current + 1);
    this.total++;
    return 'open';
  }

  leave(address: string): void {
    const current = this.perAddress.get(address) ?? 0;
    if (current <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, current - 1);
    this.total = Math.max(0, this.total - 1);
  }
}
