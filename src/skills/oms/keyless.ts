// Keyless (Sigstore) OMS bundles: the Fulcio certificate, transparency log entry and timestamps are
// checked offline by @sigstore/verify against a trusted root the caller supplies, with a policy on
// the certificate's SAN identity and OIDC issuer. The library checks the DSSE signature over the
// envelope's payload; the payload itself is compared with the folder by our own code afterwards.

import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { WardenError, q } from '../../errors.js';

export interface KeylessSigner {
  identity: string;
  issuer: string;
}

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
}

/** Verify a keyless bundle for `identity` (exact SAN) and `issuer` (exact OIDC issuer). */
export function verifyKeyless(
  bundleJson: unknown,
  trustedRootJson: unknown,
  identity: string,
  issuer: string,
): KeylessSigner {
  if (identity === '' || issuer === '') {
    throw new WardenError('invalid_argument', 'keyless verification needs an identity and an issuer');
  }
  let root: TrustedRoot;
  try {
    const raw: unknown = typeof trustedRootJson === 'string' ? JSON.parse(trustedRootJson) : trustedRootJson;
    root = TrustedRoot.fromJSON(raw);
  } catch (err) {
    throw new WardenError('invalid_argument', 'the trusted root is not a sigstore trusted root', {
      cause: err,
    });
  }
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(bundleJson);
  } catch (err) {
    throw new WardenError('bundle_invalid', `the keyless bundle is malformed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const verifier = new Verifier(toTrustMaterial(root));
    verifier.verify(toSignedEntity(bundle), { subjectAlternativeName: identity, extensions: { issuer } });
  } catch (err) {
    if (err instanceof WardenError) throw err;
    const code = codeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'SIGNATURE_ERROR') {
      throw new WardenError('signature_invalid', `the keyless signature does not verify: ${message}`, {
        cause: err,
      });
    }
    throw new WardenError(
      'signature_untrusted',
      `the keyless signature is not trusted for identity ${q(identity)} and issuer ${q(issuer)}: ${message}`,
      { cause: err },
    );
  }
  return { identity, issuer };
}
