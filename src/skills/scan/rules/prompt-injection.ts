// Instructions hidden in text the model reads: overrides of earlier instructions, concealment from
// the user, role reassignment, fake system tags, coercion, and any instruction placed where a person
// would not see it (HTML comments, hidden elements, text after a wall of blank lines).

import type { RuleMeta } from './meta.js';

export const INJECTION_RULES: RuleMeta[] = [
  {
    id: 'WS101',
    name: 'instruction-override',
    category: 'prompt-injection',
    severity: 'high',
    short: 'tells the model to ignore its instructions',
    full: 'Text tells the model to ignore, forget or override its previous, system or user instructions.',
    help: 'Remove the override; legitimate instructions add to the context, they do not cancel it.',
  },
  {
    id: 'WS102',
    name: 'concealment',
    category: 'prompt-injection',
    severity: 'high',
    short: 'tells the model to hide something from the user',
    full: 'Text tells the model not to tell the user, to act silently or secretly, or to hide an action from the user.',
    help: 'Nothing a tool or skill asks for should be hidden from the user.',
  },
  {
    id: 'WS103',
    name: 'role-reassignment',
    category: 'prompt-injection',
    severity: 'high',
    short: "reassigns the model's role",
    full: 'Text gives the model a new identity or purpose, or unlocks an unrestricted mode.',
    help: 'Remove the role reassignment.',
  },
  {
    id: 'WS104',
    name: 'directive-tag',
    category: 'prompt-injection',
    severity: 'medium',
    short: 'fake system or priority tag',
    full: 'Text uses tags such as <IMPORTANT>, <SYSTEM>, [INST] or chat-template markers to make its content look like privileged instructions.',
    help: 'Tool descriptions and documentation have no need for system tags.',
  },
  {
    id: 'WS105',
    name: 'hidden-instructions',
    category: 'prompt-injection',
    severity: 'high',
    short: 'instructions hidden from the reader',
    full: 'Instructions addressed to the model sit where a person reading the rendered text would not see them: an HTML comment, a hidden element, a Markdown comment, or after a long run of blank lines.',
    help: 'Move any real instruction into visible text, and remove hidden ones.',
  },
  {
    id: 'WS106',
    name: 'hidden-content',
    category: 'prompt-injection',
    severity: 'low',
    short: 'text hidden from the reader',
    full: 'Text sits in an HTML comment, a hidden element or after a long run of blank lines; it does not read as instructions.',
    help: 'Informational.',
  },
  {
    id: 'WS107',
    name: 'undisclosed-action',
    category: 'prompt-injection',
    severity: 'high',
    short: 'tool text directs the model to an unrelated sensitive action',
    full: 'A tool description or hidden text directs the model to read credentials, send data out, or run commands as a side task of the tool (tool poisoning).',
    help: 'A description describes the tool; it does not give the model tasks.',
  },
  {
    id: 'WS108',
    name: 'coercion',
    category: 'prompt-injection',
    severity: 'medium',
    short: "threatens failure or claims the user's consent",
    full: 'Text pressures the model ("otherwise the tool will crash") or claims approval it cannot have ("the user has already approved this").',
    help: 'Remove the pressure; consent comes from the user, not from a description.',
  },
  {
    id: 'WS109',
    name: 'unrequested-action',
    category: 'prompt-injection',
    severity: 'medium',
    short: "tells the model to act without the user's request or confirmation",
    full: "Text tells the model to act even if the user did not ask, or to skip the user's confirmation or permission.",
    help: 'The user decides; remove the instruction to act on your own.',
  },
];

export interface TextPattern {
  rule: string;
  re: RegExp;
  label: string;
}

// INVARIANT: each pattern needs words ordinary documentation does not combine, so a high rule only
// fires on text written to steer a model.
export const INJECTION_PATTERNS: TextPattern[] = [
  {
    rule: 'WS101',
    re: /\b(?:ignore|disregard|forget|bypass)\s+(?:\w+\s+){0,4}?(?:previous|prior|above|earlier|preceding|all|any|original|system|your|safety|existing|other)\s+(?:\w+\s+){0,2}?(?:instructions?|prompts?|rules|guidelines|guidance|directives|constraints|guardrails|policies|policy|messages|safeguards|restrictions|protocols|training)\b/gi,
    label: 'tells the model to ignore its instructions',
  },
  {
    rule: 'WS101',
    re: /\boverride\s+(?:the\s+|your\s+|all\s+|any\s+)?(?:system|previous|prior|user(?:'s)?|safety)\s+(?:prompt|instructions?|rules|guidelines)\b|\bnew\s+(?:system\s+)?instructions\s*:|\b(?:the\s+)?(?:above|previous|prior)\s+instructions\s+(?:are|were)\s+(?:wrong|outdated|fake|void|cancelled|a test)\b|\binstead of (?:doing )?what the user (?:asked|requested|said|wants)\b/gi,
    label: 'overrides earlier instructions',
  },
  {
    rule: 'WS102',
    re: /\b(?:do\s+not|don't|dont|never|must\s+not|should\s+not|shouldn't|without)\s+(?:\w+\s+){0,2}?(?:tell(?:ing)?|inform(?:ing)?|notify(?:ing)?|alert(?:ing)?|mention(?:ing)?|reveal(?:ing)?|disclos(?:e|ing)|warn(?:ing)?|let(?:ting)?)\s+(?:\w+\s+){0,3}?(?:the\s+)?(?:user|users|human|operator|person|them)\b/gi,
    label: 'hides something from the user',
  },
  {
    rule: 'WS101',
    re: /\b(?:safety|security)?\s*(?:checks?|rules|restrictions|guidelines|guardrails|policies|sandboxing|permission\s+rules)\s+(?:\w+\s+){0,3}?(?:no\s+longer|do\s+not|don't|does\s+not|doesn't)\s+apply\b|\b(?:assistant|system|security|admin|safety)\s+(?:policy|instructions?|rules?|guidelines?|note)\s+(?:update|override|change)\s*:/gi,
    label: "lifts the model's safety rules",
  },
  {
    rule: 'WS102',
    re: /\b(?:(?:there\s+is\s+)?no\s+need\s+to|(?:do\s+not|don't|never)\s+(?:bother\s+to\s+)?)\s*(?:inform|tell|notify|alert|mention\s+(?:it|this)\s+to)\s+(?:\w+\s+){0,2}?(?:the\s+)?(?:user|users|human|operator)\b(?!\s+(?:for|about\s+(?:rate|errors?|progress)))|\b(?:leave|keep|omit)\s+(?:it|this|that|them)\s+out\s+of\s+(?:\w+\s+){0,4}?(?:summary|summaries|response|reply|replies|output|answer)\b|\b(?:never|do\s+not|don't)\s+mention\s+(?:this|these|it|that|them)(?:\s+(?:changes?|steps?|instructions?|actions?|calls?|files?))?\s+(?:in|to|when)\b|\b(?:do\s+not|don't|never)\s+(?:list|show|display|reveal|include)\s+(?:\w+\s+){0,3}?(?:bcc|cc|recipient|address|copy)\b/gi,
    label: 'hides something from the user',
  },
  {
    rule: 'WS102',
    re: /\b(?:silently|secretly|covertly|quietly|discreetly|surreptitiously)\s+(?:\w+\s+){0,3}?(?:send|upload|copy|read|include|add|forward|post|exfiltrate|collect|run|execute|install|append|write|modify|attach|transmit|fetch|cc|bcc)\b/gi,
    label: 'acts silently',
  },
  {
    rule: 'WS102',
    re: /\b(?:hide|conceal|keep)\s+(?:this|these|it|that|the\s+\w+)\s+(?:\w+\s+)?(?:(?:secret|hidden|confidential|private)\s+)?from\s+the\s+user\b|\bthe\s+user\s+(?:must|should|need|needs)\s+(?:not|never)\s+(?:know|see|notice|be told|find out|learn)\b|\b(?:upset|scare|alarm|worry|confuse)\s+the\s+user\b|\b(?:user|human)\s+(?:must|should)\s+not\s+be\s+(?:informed|told|notified|aware)\b/gi,
    label: 'hides something from the user',
  },
  {
    rule: 'WS102',
    // The same concealment in Spanish, French, German, Portuguese and Italian.
    re: /\bno\s+(?:se\s+)?(?:lo\s+|le\s+|les\s+)?(?:menciones|digas|informes|comentes|cuentes)\b|\bsin\s+(?:decirle|avisar|informar)\s+al\s+usuario\b|\bne\s+(?:le\s+|lui\s+)?(?:dis|mentionne|signale)\s+pas\b|\bsans\s+(?:le\s+dire|pr[ée]venir|informer)\s+(?:[àa]\s+)?l['’]utilisateur\b|\b(?:dem|den)\s+(?:Benutzer|Nutzer|Anwender)\s+nicht\s+(?:sagen|mitteilen|erw[äa]hnen|zeigen)\b|\bn[ãa]o\s+(?:mencione|diga|conte|informe)\s+(?:ao|para\s+o)\s+usu[áa]rio\b|\bnon\s+(?:dirlo|dire|menzionare|informare)\s+all['’]utente\b/gi,
    label: 'hides something from the user',
  },
  {
    rule: 'WS103',
    re: /\b(?:from now on|henceforth|for the rest of (?:this|the) (?:conversation|session)),?\s+you\s+(?:are|will|must|shall|should)\b|\byou\s+are\s+no\s+longer\b|\byour\s+(?:new|real|true|actual)\s+(?:role|purpose|task|goal|instructions?|objective|identity)\s+(?:is|are)\b|\b(?:enter|enable|activate|switch\s+to)\s+(?:developer|god|admin|debug|jailbreak|unrestricted|DAN)\s+mode\b|\b(?:consider|treat)\s+yourself\s+(?:as\s+)?(?:in\s+|an?\s+)?(?:unrestricted|unfiltered|jailbroken|god|developer|admin|dan|yolo)\b|\byou\s+(?:are|operate|run)\s+(?:now\s+)?in\s+(?:unrestricted|god|jailbreak|dan|yolo)\s+mode\b|\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|uncensored)\b|\bpretend\s+(?:that\s+)?you\s+(?:are|have)\s+no\s+(?:restrictions|rules|guidelines|limits)\b|\byou\s+have\s+no\s+(?:restrictions|limitations|rules|guidelines)\b|\byou\s+are\s+now\s+(?:an?|the|in)\s+(?:\w+\s+){0,3}?(?:mode|assistant|ai|agent|administrator|admin|root|hacker|bot)\b/gi,
    label: "reassigns the model's role",
  },
  {
    rule: 'WS108',
    re: /\b(?:otherwise|or else|if not|failure to do so|if you don't|if you do not)\b,?\s+(?:\w+\s+){0,6}?(?:will|would|may|might)\s+(?:not work|fail|crash|break|stop working|be blocked|error|be corrupted|be lost)\b|\b(?:the\s+)?user\s+(?:has\s+)?(?:already\s+)?(?:approved|consented|authori[sz]ed|agreed|pre-approved)\b|\bvery,?\s+very\s+important\b/gi,
    label: 'pressures the model',
  },
  {
    rule: 'WS109',
    re: /\beven\s+if\s+(?:the\s+)?user\s+(?:did\s+not|didn't|does\s+not|doesn't|has\s+not|hasn't|never)\s+(?:ask|request|want|agree|approve)|\bwithout\s+(?:asking|waiting)\s+(?:the\s+user\s+)?for\s+(?:(?:the\s+)?user(?:'s)?\s+)?(?:confirmation|approval|permission|consent)\b|\b(?:do\s+not|don't|never)\s+ask\s+(?:the\s+user\s+)?(?:for\s+)?(?:confirmation|permission|approval|consent)\b|\b(?:do\s+not|don't)\s+ask\s+the\s+user\s+first\b|\b(?:does\s+not|doesn't|no\s+longer)\s+(?:require|need)s?\s+(?:(?:the\s+)?user(?:'s)?\s+)?(?:confirmation|approval|permission|consent)\b/gi,
    label: 'acts without the user',
  },
  {
    rule: 'WS102',
    re: /\b(?:should|must)\s+(?:not|never)\s+be\s+(?:discussed|shared|mentioned|disclosed|revealed|shown)\s+(?:with|to)\s+the\s+user\b|\b(?:do\s+not|don't|never)\s+show\s+(?:\w+\s+){0,3}?to\s+the\s+user\b/gi,
    label: 'hides something from the user',
  },
  {
    rule: 'WS104',
    re: /\b(?:note|message|instructions?|reminder)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|model|llm|agent|ai\s+model|language\s+model)\s*:/gi,
    label: 'addresses the model directly',
  },
  {
    rule: 'WS101',
    re: /\b(?:ignore|disregard)\s+(?:the\s+|all\s+|any\s+)?(?:instructions?|rules|guidelines|prompts?)\s+(?:of|from|in)\s+(?:the\s+)?(?:other|previous|prior|any|all|system|user)\b|\b(?:always\s+)?use\s+this\s+skill\s+(?:first\s+)?for\s+(?:every|all|any)\s+(?:request|task|prompt|message)s?\b|\bbefore\s+any\s+other\s+skills?\b/gi,
    label: 'claims precedence over other instructions',
  },
  {
    rule: 'WS109',
    re: /\bwithout\s+(?:reviewing|checking|validating|inspecting|verifying|sanitizing|sanitising)\s+(?:it|them|the\s+\w+)\b|\b(?:do\s+not|don't|never)\s+(?:need\s+to\s+)?ask\s+(?:the\s+user\s+)?(?:for\s+)?(?:confirmation|permission|approval|consent)\b|\bno\s+need\s+to\s+ask\b|\b(?:do\s+not|don't|never)\s+redact\b/gi,
    label: 'acts without the user',
  },
  {
    rule: 'WS102',
    // Concealment in Chinese, Japanese and Korean.
    re: /(?:无需|不用|不必|不要|请勿|切勿|别)(?:告知|告诉|通知|提醒)用户|不要(?:在[^。\n]{0,10})?(?:提及|提到|透露)|(?:ユーザー|利用者)に(?:は)?(?:伝えない|知らせない|言わない|伝えないで)|사용자에게\s*(?:알리지|말하지)/g,
    label: 'hides something from the user',
  },
];

export const DIRECTIVE_TAG =
  /<\s*\/?\s*(?:IMPORTANT|SYSTEM|ADMIN|OVERRIDE|SECRET|HIDDEN|INSTRUCTIONS?|CRITICAL|MANDATORY|PRIORITY|important|system|system[-_]?(?:prompt|message|instructions?)|admin|override|hidden)\s*>|\[\s*(?:SYSTEM|INST|ADMIN|\/INST)\s*\]|<\|(?:im_start|im_end|system|endoftext)\|>|<<\s*SYS\s*>>/g;

/** Text addressed to the model and phrased as an order. */
export function instructionLike(text: string): boolean {
  return (
    /\b(?:you|your|assistant|ai|model|llm|agent|claude|gpt|copilot|chatbot)\b/i.test(text) &&
    /\b(?:must|should|always|never|ignore|do not|don't|run|execute|send|read|include|fetch|upload|call|use|add|append|write|delete|remove|output|reply|respond|instead)\b/i.test(
      text,
    )
  );
}
