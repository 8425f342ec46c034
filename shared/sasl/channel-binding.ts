/**
 * TLS channel-binding data for the SCRAM -PLUS mechanisms, computed once per TLS connection by the
 * listener and passed in the SASL context.
 *
 * - `tls-exporter` (RFC 9266): 32 bytes of keying material with label "EXPORTER-Channel-Binding" and
 *   no context. Only on TLS 1.3: under TLS 1.2 it is safe only with the extended master secret, which
 *   Node cannot tell us was negotiated (RFC 9266 §3).
 * - `tls-server-end-point` (RFC 5929 §4.1): the hash of our certificate, with the certificate's
 *   signature hash, SHA-256 when that is MD5 or SHA-1; undefined for signatures without a single
 *   hash (Ed25519, RSA-PSS), for which RFC 5929 defines no value.
 *
 * `tls-unique` is not offered: it is undefined for TLS 1.3 (RFC 9266 §1) and broken for TLS 1.2
 * without the extended master secret.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';

export type ChannelBindings = Partial<Record<ChannelBindingType, Buffer>>;

const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_BYTES = 32;

/** Signature algorithm OID → hash for tls-server-end-point (RFC 5929 §4.1). */
const END_POINT_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** The channel bindings of an established server-side TLS connection. */
export function channelBindingsOf(socket: TLSSocket): ChannelBindings {
  const bindings: ChannelBindings = {};
  if (socket.getProtocol() === 'TLSv1.3') {
    // RFC 9266 asks for no context; in TLS 1.3 an empty context is the same thing (RFC 8446 §7.5).
    bindings['tls-exporter'] = socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
  }
  const certificate = socket.getX509Certificate();
  if (certificate) {
    const endPoint = serverEndPoint(certificate);
    if (endPoint) bindings['tls-server-end-point'] = endPoint;
  }
  return bindings;
}

export function serverEndPoint(certificate: X509Certificate): Buffer | undefined {
  const hash = END_POINT_HASH[certificate.signatureAlgorithmOid];
  return hash === undefined ? undefined : createHash(hash).update(certificate.raw).digest();
}

export function hasChannelBinding(bindings: ChannelBindings | undefined): boolean {
  return bindings !== undefined && Object.values(bindings).some((value) => value !== undefined);
}
