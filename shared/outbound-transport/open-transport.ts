/** Builds the outbound transport the configuration names; none when delivery is switched off. */
import type { OutboundTransportConfig } from '../config/config.ts';
import type { OutboundTransport } from './outbound-transport.ts';
import { SesTransport } from './ses-transport.ts';
import { SmtpTransport, systemMxResolver } from './smtp-transport.ts';

export interface TransportContext {
  /** Our name in EHLO. */
  hostname: string;
  /** DNS servers for MX lookups; the system's when absent. */
  dnsServers?: string[];
}

export function openOutboundTransport(
  config: OutboundTransportConfig,
  context: TransportContext,
): OutboundTransport | undefined {
  switch (config.kind) {
    case 'none':
      return undefined;
    case 'ses':
      return new SesTransport({
        region: config.region,
        ...(config.configurationSet ? { configurationSet: config.configurationSet } : {}),
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      });
    case 'smarthost':
      return SmtpTransport.smarthost({
        host: config.host,
        port: config.port,
        tls: config.tls,
        heloName: context.hostname,
        ...(config.user !== undefined && config.password !== undefined
          ? { auth: { user: config.user, pass: config.password } }
          : {}),
      });
    case 'mx':
      return SmtpTransport.directMx({
        heloName: context.hostname,
        port: config.port,
        resolveMx: systemMxResolver(context.dnsServers),
      });
  }
}
