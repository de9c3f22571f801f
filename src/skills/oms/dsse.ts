// The DSSE pre-authentication encoding: the exact bytes an envelope's signature covers.

/** `DSSEv1 <len(type)> <type> <len(payload)> <payload>`, lengths in bytes of the UTF-8 / raw forms. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}
