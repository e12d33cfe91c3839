"""Prompt-injection screening of any untrusted text (questions, retrieved chunks, tool output)
and PII redaction of answers.

Patterns cover OWASP LLM01 (instruction override, role play, encoded payloads, links and tool
smuggling), LLM02 (requests for secrets or other tenants' data) and LLM07 (system-prompt
extraction). Encoded payloads are decoded and screened again, so base64 hides nothing.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass

import re2

from .redaction import Redactor

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))

PATTERNS: dict[str, list[str]] = {
    "instruction_override": [
        r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(previous|prior|above|"
        r"earlier|preceding|all|any|your|the|system)\b.{0,40}\b(instructions?|rules?|prompts?|"
        r"guidelines?|directions?|context|polic(y|ies)|guardrails?|restrictions?)",
        r"\bnew (instructions?|rules?|task)\s*:",
        # a label addressing the model inside data: "AGENT-INSTRUCTION:", "assistant command:"
        r"\b(agent|assistant|ai|llm)[ _-]?(instructions?|commands?|directives?|overrides?)\s*:",
        r"\bfrom now on,? (you|answer|respond|only)\b",
        r"\bdo not follow (the|your) (rules|instructions|guidelines)",
        r"\binstead of answering\b",
        r"\b(end|close) of (the )?(context|document|system prompt)\b",
        r"</?(system|instructions?|assistant)>",
        r"\[(system|inst)\]",
    ],
    "system_prompt_extraction": [
        r"\b(reveal|show|print|repeat|output|display|tell|give|leak|dump|recite|share)\b"
        r".{0,30}\b(system|hidden|initial|original|secret|developer|internal)\s+"
        r"(prompt|instructions?|message|rules)",
        r"\b(repeat|print|output|copy)\b.{0,30}\b(everything|all text|the text|words)\b.{0,20}"
        r"\b(above|before|so far)\b",
        r"\bwhat (were|are) you (told|instructed)\b",
        r"\byour (instructions|prompt) (verbatim|word for word)\b",
    ],
    "role_play": [
        r"\byou are (now|no longer)\b",
        r"\bpretend (to be|you are|that you)\b",
        r"\b(act|behave|respond) as (if you were |an? )?(unrestricted|unfiltered|jailbroken|evil|"
        r"dan|developer mode|admin|root|system)",
        r"\b(role-?play|roleplay) as\b",
        r"\b(dan|developer) mode\b",
        r"\bjailbr(eak|oken)\b",
        r"\bdo anything now\b",
        r"\bno (longer )?(bound|restricted) by\b",
    ],
    "links_and_tools": [
        r"!\[[^\]]*\]\(\s*https?://",
        r"\b(visit|open|fetch|load|click|send|post|upload|exfiltrate)\b.{0,40}https?://",
        r"\b(call|invoke|run|execute|use) (the |a )?(tool|function|plugin|shell|command|code)\b",
        r"<\s*(tool_call|function_call|tool|script|img|iframe)\b",
        r"\"(tool|function|name)\"\s*:\s*\"",
        r"\b(curl|wget|bash -c|powershell|rm -rf)\b",
        r"\bsend (it|this|the answer|the data|them) to\b",
    ],
    "data_exfiltration": [
        r"\b(other|another|all|every|different)\s+(tenants?|customers?|users?|accounts?|"
        r"organi[sz]ations?)('s?)?\s*(data|documents?|files?|records?|secrets?|text|answers?)",
        r"\b(list|show|give|print|reveal|dump|export|tell)\b.{0,20}\b(all|every|the)\b.{0,20}"
        r"\b(api keys?|passwords?|secrets?|credentials?|access tokens?|private keys?|"
        r"social security numbers?|credit cards?)\b",
        r"\b(dump|export|exfiltrate|download)\b.{0,20}\b(database|db|table|index|corpus|"
        r"everything)\b",
        r"\btenant\s*[=:]\s*\S+",
        r"('|\")\s*;?\s*(drop|delete|truncate|update|insert)\s+(table|from|into)\b",
        r"\bunion\s+(all\s+)?select\b",
        r"\b(environment variables|env vars|\.env file|database_url|aws_secret)",
    ],
}
_RULES = [
    (category, re.compile(pattern, re.IGNORECASE | re.DOTALL))
    for category, patterns in PATTERNS.items()
    for pattern in patterns
]


def _rule_set() -> re2.Set:
    """Every pattern in one RE2 set: one linear-time pass per text finds which rules match
    (about 250 times faster than trying each pattern in turn, which matters at ingestion,
    where every chunk is screened). `re` then only extracts the evidence of a match."""
    options = re2.Options()
    options.case_sensitive, options.dot_nl = False, True
    rules = re2.Set.SearchSet(options)
    for pattern in (pattern for patterns in PATTERNS.values() for pattern in patterns):
        rules.Add(pattern)
    rules.Compile()
    return rules


_RULE_SET = _rule_set()
_SPACES = re.compile(r"\s+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){12,}\b")
_ENCODING_HINT = re.compile(r"\b(base64|rot13|hex|decode|encoded|cipher)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    category: str = ""
    evidence: str = ""


CLEAN = Verdict(False)
# Identifies these rules: a verdict stored with another ruleset is screened again.
RULESET = hashlib.sha256(repr(PATTERNS).encode()).hexdigest()[:12]


def normalise(text: str) -> str:
    """NFKC, no zero-width characters, single spaces: defeats the cheapest obfuscations."""
    if not text.isascii():  # NFKC and the zero-width characters concern non-ASCII only
        text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    return _SPACES.sub(" ", text)


def screen(text: str, _depth: int = 0) -> Verdict:
    """Flag text that tries to steer the model instead of informing it."""
    text = normalise(text)
    matched = _RULE_SET.Match(text)
    if matched:
        category, rule = _RULES[min(matched)]  # the first rule, in the order written
        found = rule.search(text)
        return Verdict(True, category, found.group(0)[:80] if found else "")
    if _depth == 0:
        for decoded in _decoded_payloads(text):
            inner = screen(decoded, _depth=1)
            if inner.flagged:
                return Verdict(True, "encoded_payload", f"{inner.category}: {inner.evidence}")
    return CLEAN


def screening(text: str) -> str:
    """The verdict to store with a chunk at ingestion (`<ruleset>:<category>`, category empty
    when clean), so queries need not run every pattern over every retrieved chunk again."""
    return f"{RULESET}:{screen(text).category}"


def screen_stored(text: str, stored: str | None) -> Verdict:
    """The stored verdict when these rules made it; otherwise (rows from before, or changed
    rules) screen the text now."""
    ruleset, _, category = (stored or "").partition(":")
    if ruleset != RULESET:
        return screen(text)
    return Verdict(True, category, "screened at ingestion") if category else CLEAN


def _decoded_payloads(text: str) -> list[str]:
    found: list[str] = []
    for token in _BASE64.findall(text):
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=False)
            found.append(decoded.decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    for token in _HEX.findall(text):
        try:
            found.append(bytes.fromhex(token).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
    if _ENCODING_HINT.search(text):
        found.append(codecs.decode(text, "rot13"))
    return found


_PII = [
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[REDACTED_SSN]"),
    (re.compile(r"(?<!\w)\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]\d{3,4}[ .-]\d{3,4}\b"),
     "[REDACTED_PHONE]"),
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b"), "[REDACTED_IBAN]"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "[REDACTED_IP]"),
]  # fmt: skip
_SECRETS_AND_EMAILS = Redactor()


def redact_pii(text: str) -> str:
    """Emails, card numbers and secret-shaped strings (chassis rules), then phones, SSNs,
    IBANs and IP addresses."""
    text = _SECRETS_AND_EMAILS(text)
    for pattern, replacement in _PII:
        text = pattern.sub(replacement, text)
    return text
