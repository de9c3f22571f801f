// The stock policy pack, embedded so that an installed Warden (which ships only dist/) has it.
// The same files live in policies/stock/ at the repository root, where they are read, reviewed and
// edited; a test keeps the two identical. `warden init` copies them into <data-dir>/policies/.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyFile } from './load.js';

export const STOCK_POLICIES: readonly PolicyFile[] = [
  {
    name: '00-baseline.cedar',
    text: `// Warden stock policy pack: baseline.
//
// Cedar denies whatever no policy permits. This file permits the three things an agent asks of an
// upstream MCP server: calling a tool, reading a resource, getting a prompt. It permits them for
// every agent because Cedar is not the first gate: before it asks Cedar, the gateway only routes an
// agent to servers and tools its blueprint's envelope allows and its token's scopes cover, so a
// request that reaches this policy is already inside the agent's envelope. The forbids in the
// other stock files (and yours) then carve out what must not happen even inside it.
//
// It does not permit Warden's own tool, warden__run_script (code mode: the agent's program runs
// in a disposable isolate and calls its tools through this same pipeline). Give it to the agents
// that should have it, for example
//
//   permit (
//     principal in Warden::Blueprint::"analyst",
//     action in Warden::Action::"tools/call",
//     resource == Warden::Tool::"warden/run_script"
//   );
//
// Nothing here permits what an upstream server asks of the agent's client
// (sampling/createMessage, elicitation/create, roots/list): those stay denied until you permit
// them; a sandboxed server's outbound connections (connect) are permitted by
// 30-sandbox-connect-allowlisted.cedar only to its allowlist. For example
//
//   permit (
//     principal == Warden::Server::"docs",
//     action == Warden::Action::"roots/list",
//     resource
//   );
//
//   permit (
//     principal == Warden::Server::"github",
//     action == Warden::Action::"connect",
//     resource is Warden::Host
//   ) when { resource.name == "api.github.com" && resource.port == 443 };

@id("stock/baseline-agent-requests")
@reason("the agent may use the servers and tools its blueprint's envelope allows")
permit (
  principal is Warden::Agent,
  action in [
    Warden::Action::"tools/call",
    Warden::Action::"resources/read",
    Warden::Action::"prompts/get"
  ],
  resource
)
unless { resource.server == "warden" };
`,
  },
  {
    name: '10-egress-after-private-and-untrusted.cedar',
    text: `// Warden stock policy pack: the lethal trifecta.
//
// An agent that has read private data and untrusted content in the same session can be steered
// by that content into sending the data out. Once both have been seen, any tool, resource or
// prompt labelled "egress" (it can move data out of the organisation: mail, HTTP, chat, uploads)
// needs a human's approval. \`@approval\` makes this forbid liftable: the gateway holds the call and
// asks the agent's sponsor instead of refusing outright (a forbid without \`@approval\` cannot be
// lifted by anyone).
//
// context.flow.private_seen and context.flow.untrusted_seen are computed by the gateway from the
// labels of everything the session has touched so far.

@id("stock/egress-after-private-and-untrusted")
@approval("the session has read private data and untrusted content; sending anything out now needs a human's approval")
forbid (
  principal,
  action in [
    Warden::Action::"tools/call",
    Warden::Action::"resources/read",
    Warden::Action::"prompts/get"
  ],
  resource
)
when {
  resource.labels.contains("egress") &&
  context.flow.private_seen &&
  context.flow.untrusted_seen
};
`,
  },
  {
    name: '20-tainted-sensitive-argument.cedar',
    text: `// Warden stock policy pack: tainted targets and payloads.
//
// A tool labelled "egress" or "consequential" must not be pointed by untrusted content: when one
// of the call's sensitive arguments (configured per tool, e.g. the recipient of a mail or the
// account of a payment) carries a value that appeared in untrusted content and neither in the
// user's declared intent nor in a trusted source, the call is refused. The gateway computes
// context.flow.tainted_args from the provenance of every value the session has seen.
//
// This is a hard forbid (no \`@approval\`): an injected recipient is the attack itself, and a tired
// approver is the weakest link. To allow a value, put it in the task's intent.

@id("stock/tainted-sensitive-argument")
@reason("a sensitive argument of this call came from untrusted content, not from the user's intent or a trusted source")
forbid (
  principal,
  action in Warden::Action::"tools/call",
  resource
)
when {
  resource.labels.containsAny(["egress", "consequential"]) &&
  !context.flow.tainted_args.isEmpty()
};
`,
  },
  {
    name: '30-sandbox-connect-allowlisted.cedar',
    text: `// Warden stock policy pack: outbound connections of sandboxed servers.
//
// A sandboxed server has no network of its own. Its connections go through Warden's proxy, and
// each one is a \`connect\` request: the server is the principal, the destination (the name the
// server asked for, and the port) the resource. This permits exactly the destinations listed in
// the server's \`sandbox.network.allow\` in warden.yaml (context.allowlisted); anything else stays
// denied. Narrow it with forbids of your own, for example
//
//   @id("no-plain-http")
//   forbid (principal, action == Warden::Action::"connect", resource)
//   when { resource.port == 80 };

@id("stock/sandbox-connect-allowlisted")
@reason("the destination is in the server's sandbox.network.allow")
permit (
  principal is Warden::Server,
  action == Warden::Action::"connect",
  resource is Warden::Host
)
when { context.allowlisted };
`,
  },
  {
    name: '40-installed-skills.cedar',
    text: `// Warden stock policy pack: installed skills.
//
// \`warden skill install\` scans a skill, verifies its signature against a trusted signer and pins
// its digest; the gateway checks all three again at start and offers each file of a skill that
// passes as a resource of Warden's own server: skill://<name>/<path>. This permits every agent to
// read them (the blueprint's envelope must still include the server \`warden\`). Narrow it, for
// example to one blueprint:
//
//   forbid (
//     principal,
//     action == Warden::Action::"resources/read",
//     resource
//   ) when { resource.server == "warden" && resource.uri like "skill://release-notes/*" }
//   unless { principal in Warden::Blueprint::"writer" };

@id("stock/installed-skills-readable")
@reason("installed skills are signed by a trusted signer, scanned and pinned")
permit (
  principal is Warden::Agent,
  action == Warden::Action::"resources/read",
  resource is Warden::Resource
)
when { resource.server == "warden" && resource.uri like "skill://*" };
`,
  },
];

/**
 * Write the stock files into `dir` (created if needed), leaving any file that exists alone, so
 * that an operator's edits survive. Returns the names written.
 */
export function installStockPolicies(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  for (const f of STOCK_POLICIES) {
    try {
      // `wx`: never overwrite, even if the file appears between a check and the write.
      writeFileSync(join(dir, f.name), f.text, { mode: 0o600, flag: 'wx' });
      written.push(f.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return written;
}
