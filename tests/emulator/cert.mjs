// A fresh EC P-256 identity for the provisioning test: a self-signed X.509
// certificate (DER) and its private key (SEC1 DER), made with node's crypto
// at test time, so no key is committed and no openssl command is needed.
//
// The certificate is the smallest usual form: v3, CN=<name> as issuer and
// subject, ecdsa-with-SHA256, no extensions.

import { createHash, generateKeyPairSync, sign } from 'node:crypto';

function der(tag, ...parts) {
  const body = Buffer.concat(parts);
  const n = body.length;
  let len;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else len = Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...p) => der(0x30, ...p);
const set = (...p) => der(0x31, ...p);
const int = (bytes) => der(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const oid = (hex) => der(0x06, Buffer.from(hex, 'hex'));
const utf8 = (s) => der(0x0c, Buffer.from(s));
const utcTime = (s) => der(0x17, Buffer.from(s));

const ECDSA_WITH_SHA256 = '2a8648ce3d040302'; // 1.2.840.10045.4.3.2
const COMMON_NAME = '550403'; // 2.5.4.3

/**
 * @param {string} name the certificate's common name
 * @returns {{ cert: Buffer, key: Buffer, fingerprint: string }} DER
 *   certificate, SEC1 DER key, SHA-256 of the certificate (lowercase hex)
 */
export function ecIdentity(name = 'pico') {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const algorithm = seq(oid(ECDSA_WITH_SHA256));
  const dn = seq(set(seq(oid(COMMON_NAME), utf8(name))));
  const tbs = seq(
    der(0xa0, int(Buffer.from([2]))), // version v3
    int(Buffer.from([0x01, 0x23, 0x45, 0x67])), // serial
    algorithm,
    dn, // issuer
    seq(utcTime('260101000000Z'), utcTime('360101000000Z')),
    dn, // subject
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const cert = seq(tbs, algorithm, der(0x03, Buffer.from([0]), signature));
  const key = privateKey.export({ type: 'sec1', format: 'der' });
  return { cert, key, fingerprint: createHash('sha256').update(cert).digest('hex') };
}
