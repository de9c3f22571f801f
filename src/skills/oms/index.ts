// OpenSSF Model Signing (OMS v1.0) for skill folders: sign with an ECDSA key, verify against a key,
// a CA chain or a Sigstore trusted root. Verification has no network or storage code.

export { signFolder, type SignOptions, type SignResult } from './sign.js';
export { hashFolder } from './hash.js';
export { DEFAULT_SIGNATURE_NAME, effectiveIgnorePaths } from './ignore.js';
export {
  verifyFolder,
  verifyBundleSignature,
  type TrustPolicy,
  type VerifyTrust,
  type VerifyOptions,
  type VerifyResult,
  type SignerInfo,
} from './verify.js';
export {
  parseBundle,
  buildKeyBundle,
  BUNDLE_MEDIA_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  type OmsBundle,
} from './bundle.js';
export { parseStatement, buildStatement, OMS_PREDICATE_TYPE, type OmsStatement } from './statement.js';
export {
  serializeModel,
  rootDigestOf,
  DEFAULT_IGNORE_PATHS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_TOTAL_BYTES,
  type Resource,
  type SerializationMethod,
  type SerializeOptions,
  type SerializedModel,
} from './serialize.js';
export { pae } from './dsse.js';
export { keyHint, keyHintOfPem, loadPrivateKey, loadPublicKey } from './keys.js';
export { verifyCertificateChain, type CertificateSigner } from './certificate.js';
