// The supply-chain part of `warden.yaml`: who may sign skills and tool servers, the scan severity
// that refuses one, and, per stdio upstream, the folder whose signature must verify before it starts.

import { z } from 'zod';

const SIGNER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;

/** A trusted signer: a public key, a CA chain (certificate method) or a keyless Sigstore identity. */
export const SignerSchema = z.union([
  z.object({ key: z.string().min(1) }).strict(),
  z.object({ certificateChain: z.array(z.string().min(1)).min(1).max(16) }).strict(),
  z
    .object({
      keyless: z
        .object({
          /** The certificate's subject alternative name (an e-mail or a workflow URI), exactly. */
          identity: z.string().min(1),
          /** The OIDC issuer recorded in the certificate, exactly. */
          issuer: z.url({ protocol: /^https?$/ }),
          /** A Sigstore trusted_root.json (relative to the data directory). */
          trustedRoot: z.string().min(1),
        })
        .strict(),
    })
    .strict(),
]);
export type SignerConfig = z.infer<typeof SignerSchema>;

const signerNames = z
  .array(z.string().regex(SIGNER_NAME, 'must name an entry of supplyChain.signers'))
  .max(32);

export const SupplyChainSchema = z
  .object({
    /** Trusted signers by name; file paths are relative to the data directory. */
    signers: z
      .record(z.string().regex(SIGNER_NAME, 'must be 1-64 characters of a-z, 0-9 and -'), SignerSchema)
      .default({}),
    /** A skill or server whose scan finds something at or above this severity is refused (`none`: never). */
    scanFailOn: z.enum([...SEVERITIES, 'none']).default('high'),
    skills: z
      .object({
        /** The skill store, relative to the data directory. */
        dir: z.string().min(1).default('skills'),
        /** Signers a skill must carry (any one). Empty: `warden skill install` needs `--key` or `--allow-unsigned`. */
        signers: signerNames.default([]),
      })
      .strict()
      .prefault({}),
    /** Every stdio upstream must declare `verify` (a signed folder) or it does not start. */
    requireSignedServers: z.boolean().default(false),
  })
  .strict();
export type SupplyChainConfig = z.infer<typeof SupplyChainSchema>;

/** Per stdio upstream: the folder (its code) that must carry a valid signature before it starts. */
export const UpstreamVerifySchema = z
  .object({
    /** The server's folder: the package or checkout its command runs. */
    path: z.string().min(1),
    /** Signers it must carry (any one); names from supplyChain.signers. */
    signers: signerNames.min(1),
    /** The OMS signature file; default `<path>/model.sig`. */
    signature: z.string().min(1).optional(),
    /** Paths inside the folder the signature does not cover (as given when signing). */
    ignorePaths: z.array(z.string().min(1)).max(256).default([]),
    /** Overrides supplyChain.scanFailOn for this server. */
    scanFailOn: z.enum([...SEVERITIES, 'none']).optional(),
  })
  .strict();
export type UpstreamVerifyConfig = z.infer<typeof UpstreamVerifySchema>;
