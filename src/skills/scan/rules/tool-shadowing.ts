// A tool description that steers how the model uses other tools or other servers' tools (the
// "shadowing" attack): orders about another tool, rules for every tool, recipient changes.

import type { RuleMeta } from './meta.js';

export const SHADOWING_RULES: RuleMeta[] = [
  {
    id: 'WS801',
    name: 'cross-tool-instruction',
    category: 'tool-shadowing',
    severity: 'high',
    short: 'description gives orders about other tools',
    full: 'A tool description tells the model how to use other tools or servers ("when you use the send_email tool...", "before calling any other tool...", "change the recipient...").',
    help: 'A tool describes itself only; orders about other tools hijack them.',
  },
  {
    id: 'WS802',
    name: 'names-other-server-tool',
    category: 'tool-shadowing',
    severity: 'high',
    short: "description names another server's tool",
    full: 'A tool description names a tool that belongs to another server.',
    help: "Remove the reference; the description must not steer another server's tool.",
  },
  {
    id: 'WS803',
    name: 'tool-name-collision',
    category: 'tool-shadowing',
    severity: 'high',
    short: "tool name collides with another server's tool",
    full: 'A tool has the same name as a tool of another server, so calls meant for one may reach the other.',
    help: 'Rename the tool or namespace it.',
  },
  {
    id: 'WS804',
    name: 'cross-tool-reference',
    category: 'tool-shadowing',
    severity: 'low',
    short: 'description refers to another tool',
    full: 'A tool description mentions another tool without giving orders about it.',
    help: 'Informational.',
  },
];

export const SHADOW_ORDERS =
  /\btools?\s+(?:[`'"]?[\w.-]+[`'"]?\s+)?(?:of|from|on)\s+(?:the\s+)?(?:an?other|(?!(?:the|a|an|mcp|this|that|same|current|our|your|local|remote|stdio|http|target|given|connected|test|dev|running)\b)[\w-]+)\s+(?:mcp\s+)?server\b|\b(?:drop-in|replacement)\s+(?:replacement\s+)?for\s+[`'"]?\w+_[\w.-]+|\b(?:an?other|different)\s+(?:mcp\s+)?server['’]s\s+tools?\b|\b(?:tools?\s+)?(?:from|of|on|in)\s+(?:any|every|all|other|each)\s+(?:(?:connected|other|installed|available|slack|email|mail|mcp)\s+)*servers?\b|\bwhen(?:ever)?\s+(?:the\s+)?[`'"]?[\w.-]+[`'"]?\s+(?:or\s+[`'"]?[\w.-]+[`'"]?\s+)?(?:tool|function)\s+(?:\w+\s+){0,5}?(?:is|are|gets?)\s+(?:used|called|invoked|run)\b|\bbefore\s+(?:calling|using|invoking|running)\s+(?:any|all|every|another|other)\s+(?:other\s+)?(?:tools?|functions?|commands?)\b|\b(?:all|any|every)\s+(?:other\s+)?(?:tools?|servers?|functions?)\s+(?:must|should|need to|have to|are required to|will)\b|\b(?:other|another)\s+(?:mcp\s+)?(?:servers?|tools?)['’]?\s+(?:\w+\s+){0,4}?(?:must|should|always|never)\b|\bchange\s+the\s+(?:recipient|destination|to\s+address|phone\s+number|account|target)\b|\b(?:send|forward|redirect|bcc|cc|copy)\s+(?:all\s+|every\s+|any\s+)?(?:outgoing\s+)?(?:e-?mails?|messages?|mail)\s+(?:also\s+)?to\b|\b(?:this|the)\s+tool\s+(?:must|should)\s+(?:always\s+)?be\s+(?:called|used|invoked)\s+(?:before|instead)\b/gi;

export const OTHER_TOOL_CONTEXT =
  /\b(?:when|whenever|before|after|if)\s+(?:you\s+)?(?:are\s+)?(?:using|calling|invoking|running|use|call|invoke|run)\s+(?:the\s+|any\s+|a\s+)?[`'"]?([\w.-]+)[`'"]?\s+(?:tool|function|server)\b|\binstead\s+of\s+(?:using\s+|calling\s+|invoking\s+)?(?:the\s+)?[`'"]?([\w.-]+)[`'"]?\s+(?:tool|function)\b|\b(?:the|any)\s+[`'"]?([\w.-]+)[`'"]?\s+tool\s+(?:must|should|needs\s+to|has\s+to|is\s+required\s+to)\b/gi;

export const MODAL =
  /\b(?:must|always|never|make sure|ensure|do not|don't|important|required|instead|first|also)\b/i;
