// The policy domain's public surface: the Cedar schema, loading policy sets, deciding.
export {
  PolicyEngine,
  type PolicyEngineOptions,
  type PolicyWatcher,
  type ReloadResult,
  type WatchOptions,
} from './engine.js';
export { couldAllowWith, decideWith, type Decision, type Effect, type PolicyState } from './decide.js';
export {
  loadPolicyDir,
  loadPolicyTexts,
  policySetHash,
  readPolicyDir,
  wholeRequestsNote,
  MAX_POLICY_FILE_BYTES,
  type LoadedPolicy,
  type LoadedPolicySet,
  type PolicyFile,
} from './load.js';
export {
  BASE_SCHEMA,
  NAMESPACE,
  buildSchema,
  compileSchema,
  toolActionId,
  type ActionSpec,
  type PrincipalType,
  type ResourceType,
  type SchemaModel,
  type ToolSchemaInput,
} from './schema.js';
export {
  argumentType,
  argumentsToCedar,
  argTypeToCedar,
  convertArguments,
  MAX_ATTRIBUTES,
  MAX_DEPTH,
  type ArgAttribute,
  type ArgType,
  type RecordArgType,
} from './arguments.js';
export {
  parseDecisionRequest,
  toCedarRequest,
  type AgentPrincipalInput,
  type AgentRequestContext,
  type DecisionRequest,
  type DecisionResource,
  type FlowFacts,
  type ServerPrincipalInput,
  type ServerRequestContext,
  type TimeFacts,
} from './request.js';
export { parseToolLists } from './tools-file.js';
export { STOCK_POLICIES, installStockPolicies } from './stock.js';
export { PolicyError, type PolicyErrorCode } from './errors.js';
