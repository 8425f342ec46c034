/**
 * The listeners the load balancer exposes: the public port, the port the container listens on, and the
 * environment variable that tells the container which port that is.
 *
 * The container runs as a non-root user, so it listens on unprivileged ports (the same ones `npm start`
 * uses locally) and the load balancer maps the standard ports onto them. STARTTLS ports always pass
 * through; the implicit-TLS ports pass through too unless an ACM certificate is configured, in which
 * case the load balancer terminates TLS and opens a new TLS connection to the same container port.
 */

export type ListenerName = 'smtp' | 'submission' | 'submissionTls' | 'imap' | 'imaps' | 'managesieve';

export interface ListenerPort {
  name: ListenerName;
  /** Port on the load balancer (what clients and other MTAs connect to). */
  publicPort: number;
  /** Port the container listens on. */
  containerPort: number;
  envVar: string;
  /** 'starttls': plain TCP until the client upgrades; 'implicit': TLS from the first byte. */
  tls: 'starttls' | 'implicit';
  /**
   * Health-check another listener's port instead of this one, for a listener the container does not
   * run yet: a target group checked on a closed port would have ECS replace healthy tasks forever.
   */
  healthCheckVia?: ListenerName;
}

export const LISTENER_PORTS: readonly ListenerPort[] = [
  { name: 'smtp', publicPort: 25, containerPort: 2525, envVar: 'MARMOT_SMTP_PORT', tls: 'starttls' },
  { name: 'submission', publicPort: 587, containerPort: 2587, envVar: 'MARMOT_SUBMISSION_PORT', tls: 'starttls' },
  {
    name: 'submissionTls',
    publicPort: 465,
    containerPort: 2465,
    envVar: 'MARMOT_SUBMISSION_TLS_PORT',
    tls: 'implicit',
  },
  { name: 'imap', publicPort: 143, containerPort: 1143, envVar: 'MARMOT_IMAP_PORT', tls: 'starttls' },
  { name: 'imaps', publicPort: 993, containerPort: 1993, envVar: 'MARMOT_IMAPS_PORT', tls: 'implicit' },
  // No ManageSieve server exists yet: 4190 is routed, but its targets are judged by IMAP's health.
  {
    name: 'managesieve',
    publicPort: 4190,
    containerPort: 4190,
    envVar: 'MARMOT_MANAGESIEVE_PORT',
    tls: 'starttls',
    healthCheckVia: 'imap',
  },
];

export function listenerPort(name: ListenerName): ListenerPort {
  const port = LISTENER_PORTS.find((p) => p.name === name);
  if (!port) throw new Error(`no listener named ${name}`);
  return port;
}
