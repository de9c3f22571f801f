// The Sigstore bundle v0.3 that carries an OMS signature: parse (JSON, media type, DSSE envelope,
// verification material, then the statement inside) and build. Nothing here checks a signature.

import { z } from 'zod';
import { WardenError, q } from '../../errors.js';
import { parseStatement, type OmsStatement } from './statement.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The other spelling Sigstore accepts for the same v0.3 format. */
const BUNDLE_MEDIA_TYPES: readonly string[] = [
  BUNDLE_MEDIA_TYPE,
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
];
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

const Base64 = z
  .string()
  .min(1)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/, 'not base64');

const RawBytes = z.looseObject({ rawBytes: Base64 });

const MaterialSchema = z.looseObject({
  publicKey: z
    .looseObject({
      hint: z.string().optional(),
      // Bundles from before v1.1.0 embed the PEM of the key instead of a hint.
      rawBytes: Base64.optional(),
    })
    .optional(),
  x509CertificateChain: z.looseObject({ certificates: z.array(RawBytes).min(1) }).optional(),
  certificate: RawBytes.optional(),
  tlogEntries: z.array(z.unknown()).optional(),
  timestampVerificationData: z.unknown().optional(),
});

const EnvelopeSchema = z.strictObject({
  payload: Base64,
  payloadType: z.string(),
  signatures: z
    .array(
      z.strictObject({
        sig: Base64,
        // Absent, empty or null: none of them is used for verification.
        keyid: z.string().nullable().optional(),
      }),
    )
    .min(1),
});

const BundleSchema = z.strictObject({
  mediaType: z.string(),
  verificationMaterial: MaterialSchema,
  dsseEnvelope: EnvelopeSchema,
});

export type VerificationMaterial =
  | { kind: 'key'; hint: string | undefined; rawBytes: Buffer | undefined }
  | { kind: 'certificate'; chain: Buffer[] }
  | { kind: 'keyless'; certificate: Buffer };

/** A bundle whose structure and statement are well formed; its signature is not yet checked. */
export interface OmsBundle {
  /** The parsed JSON, for verifiers that take the whole bundle. */
  json: unknown;
  material: VerificationMaterial;
  payloadType: string;
  payload: Buffer;
  signature: Buffer;
  statement: OmsStatement;
}

function material(m: z.infer<typeof MaterialSchema>): VerificationMaterial {
  const present = [m.publicKey, m.x509CertificateChain, m.certificate].filter((x) => x !== undefined);
  if (present.length !== 1) {
    throw new WardenError(
      'bundle_invalid',
      'the verification material must hold exactly one of a public key, a certificate chain or a certificate',
    );
  }
  if (m.publicKey) {
    const hint = m.publicKey.hint === '' ? undefined : m.publicKey.hint;
    const raw = m.publicKey.rawBytes;
    if (hint === undefined && raw === undefined) {
      throw new WardenError('bundle_invalid', 'the public key has neither a hint nor raw bytes');
    }
    return { kind: 'key', hint, rawBytes: raw === undefined ? undefined : Buffer.from(raw, 'base64') };
  }
  if (m.x509CertificateChain) {
    return {
      kind: 'certificate',
      chain: m.x509CertificateChain.certificates.map((c) => Buffer.from(c.rawBytes, 'base64')),
    };
  }
  return { kind: 'keyless', certificate: Buffer.from(m.certificate?.rawBytes ?? '', 'base64') };
}

/** Parse bundle text; every failure is `bundle_invalid` with the first thing found wrong. */
export function parseBundle(text: string): OmsBundle {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WardenError('bundle_invalid', 'the signature file is not JSON');
  }
  const mediaType =
    typeof json === 'object' && json !== null && 'mediaType' in json ? json.mediaType : undefined;
  if (typeof mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.includes(mediaType)) {
    throw new WardenError(
      'bundle_invalid',
      `media type ${q(mediaType ?? null)} is not a sigstore bundle v0.3 (${q(BUNDLE_MEDIA_TYPE)})`,
    );
  }
  const b = BundleSchema.safeParse(json);
  if (!b.success) {
    const i = b.error.issues[0];
    throw new WardenError(
      'bundle_invalid',
      `the signature is not an oms bundle: ${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'}`,
    );
  }
  const env = b.data.dsseEnvelope;
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new WardenError(
      'bundle_invalid',
      `payload type ${q(env.payloadType)} is not ${q(IN_TOTO_PAYLOAD_TYPE)}`,
    );
  }
  // The reference signs with exactly one key; a second signature would be unchecked, so refuse it.
  if (env.signatures.length !== 1) {
    throw new WardenError('bundle_invalid', `the envelope has ${env.signatures.length} signatures, not one`);
  }
  const mat = material(b.data.verificationMaterial);
  const payload = Buffer.from(env.payload, 'base64');
  return {
    json,
    material: mat,
    payloadType: env.payloadType,
    payload,
    signature: Buffer.from(env.signatures[0]?.sig ?? '', 'base64'),
    statement: parseStatement(payload),
  };
}

/** A key-signed bundle: the public key travels as its hint only, with no transparency log entries. */
export function buildKeyBundle(input: {
  payload: Buffer;
  signature: Buffer;
  hint: string;
}): Record<string, unknown> {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: input.hint }, tlogEntries: [] },
    dsseEnvelope: {
      payload: input.payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: input.signature.toString('base64'), keyid: '' }],
    },
  };
}
