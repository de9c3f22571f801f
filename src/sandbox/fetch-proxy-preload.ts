// Preloaded (NODE_OPTIONS --import) into Node servers that run in a sandbox with a network
// allowlist: Node's built-in fetch ignores HTTP_PROXY, so route it through undici's
// EnvHttpProxyAgent, which reads HTTP_PROXY/HTTPS_PROXY/NO_PROXY like other clients do.

import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

// The agent is marked experimental and says so on stderr; the server's log need not carry that.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = () => undefined;
try {
  setGlobalDispatcher(new EnvHttpProxyAgent());
} finally {
  process.emitWarning = emitWarning;
}
