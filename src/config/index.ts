export { ConfigSchema, DEFAULT_CONFIG_YAML, type WardenConfig } from './schema.js';
export { CONFIG_FILE, loadConfig, parseConfig, resolveDataDir } from './load.js';
export { formatDuration, parseDuration } from './duration.js';
export { defaultAudience, issuerUrl } from './issuer.js';
