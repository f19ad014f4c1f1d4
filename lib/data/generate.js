#!/usr/bin/env node
// Regenerates the user-agent and bot tables compiled into lib/ from two npm data packages:
//   uap-core            regexes.yaml (browser and OS parsers)           Apache-2.0
//   crawler-user-agents crawler-user-agents.json (bot patterns)         MIT
//
//   mkdir /tmp/uapgen && cd /tmp/uapgen && npm install uap-core crawler-user-agents
//   node lib/data/generate.js /tmp/uapgen/node_modules
//
// Writes lib/data/ua_regexes.inc and lib/data/bot_patterns.inc next to this script, and
// tests/fixtures/ua/crawler-instances.txt (the example user agents of crawler-user-agents).
'use strict';
const fs = require('fs');
const path = require('path');

const modules = process.argv[2];
if (!modules) {
  console.error('usage: generate.js NODE_MODULES_DIR');
  process.exit(2);
}
const here = __dirname;
const uapVersion = require(path.join(modules, 'uap-core', 'package.json')).version;
const botVersion = require(path.join(modules, 'crawler-user-agents', 'package.json')).version;

// regexes.yaml uses one small subset of YAML: three top-level lists of maps whose values are
// all single-quoted scalars ('' stands for a quote). Anything else is refused loudly.
function parseUapYaml(text) {
  const sections = {};
  let list = null;
  let item = null;
  text.split('\n').forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    let m;
    if ((m = /^([a-z_]+):\s*$/.exec(line))) {
      list = sections[m[1]] = [];
      return;
    }
    if ((m = /^\s*(- )?\s*([a-z_0-9]+): '(.*)'\s*$/.exec(line))) {
      if (!list) throw new Error(`line ${i + 1}: entry outside a section`);
      if (m[1]) list.push((item = {}));
      item[m[2]] = m[3].replace(/''/g, "'");
      return;
    }
    throw new Error(`line ${i + 1}: unsupported YAML: ${line}`);
  });
  return sections;
}

// A C string literal: escapes backslash, quote, '?' (trigraphs) and every non-printable or
// non-ASCII byte, so the output is plain ASCII whatever the data holds.
function cString(s) {
  if (s === undefined || s === null) return 'NULL';
  let out = '"';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    else if (b === 0x3f) out += '\\?';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += '\\' + b.toString(8).padStart(3, '0');
  }
  return out + '"';
}

// The required literal of a rule: a substring of at least 3 bytes that every match must contain.
// lib/ua.c skips a rule at once when the user agent lacks one of its 3-byte pieces, instead of
// running the regex; uap-core's ~550 rules are tried in order, so this is most of the work saved.
// Longest plain substring that every match of a regex must contain, or '' when none is found.
// Conservative by construction: anything not understood ends the current run of characters.
function requiredLiteral(re) {
  if (/\(\?[a-zA-Z-]*[ix]|\\[QEx0-9pPcN]/.test(re)) return '';   // inline flags, quoting, escapes we do not model
  const BREAK = null;
  let i = 0;
  // Parses until ')' or the end; returns a list of characters and BREAKs, or null when the
  // sequence has a top-level alternation (no single literal is then required).
  function seq() {
    const out = [];
    let alt = false;
    while (i < re.length && re[i] !== ')') {
      const c = re[i];
      let atom;                 // list of items this atom contributes when present exactly once
      if (c === '|') { alt = true; i++; continue; }
      if (c === '\\') {
        const n = re[i + 1]; i += 2;
        if (n === undefined) throw new Error('trailing backslash');
        atom = /[A-Za-z0-9]/.test(n) ? [BREAK] : [n];
      } else if (c === '[') {
        let j = i + 1; if (re[j] === '^') j++; if (re[j] === ']') j++;
        for (; j < re.length && re[j] !== ']'; j++) if (re[j] === '\\') j++;
        if (j >= re.length) throw new Error('unterminated class');
        i = j + 1; atom = [BREAK];
      } else if (c === '(') {
        i++;
        let look = false;
        if (re[i] === '?') {
          if (re[i + 1] === ':') i += 2;
          else if (/^(\?=|\?!|\?<=|\?<!)/.test(re.slice(i))) { look = true; i += re[i + 1] === '<' ? 3 : 2; }
          else throw new Error('unknown group ' + re.slice(i - 1, i + 4));
        }
        const inner = seq();
        if (re[i] !== ')') throw new Error('unbalanced');
        i++;
        // A plain group (no alternation, no lookaround) matches its content exactly once unless
        // a quantifier follows, so its characters may join the surrounding run.
        atom = look || inner === null ? [BREAK] : inner;
      } else if ('.^$'.includes(c)) {
        i++; atom = [BREAK];
      } else if ('?*+{'.includes(c)) {
        throw new Error('quantifier without atom at ' + i);
      } else {
        i++; atom = [c];
      }
      // Quantifier after the atom.
      const q = re[i];
      if (q === '?' || q === '*') {
        i++; if (re[i] === '?' || re[i] === '+') i++;
        out.push(BREAK);
        continue;
      }
      if (q === '+') {
        i++; if (re[i] === '?' || re[i] === '+') i++;
        out.push(BREAK, ...atom, BREAK);
        continue;
      }
      if (q === '{' && /^\{\d+(,\d*)?\}/.test(re.slice(i))) {
        const m = /^\{(\d+)(,\d*)?\}/.exec(re.slice(i));
        i += m[0].length; if (re[i] === '?' || re[i] === '+') i++;
        if (m[1] === '0') out.push(BREAK); else out.push(BREAK, ...atom, BREAK);
        continue;
      }
      out.push(...atom);
    }
    return alt ? null : out;
  }
  let items;
  try {
    items = seq();
    if (i !== re.length) return '';   // stray ')'
  } catch (e) {
    return '';
  }
  if (items === null) return '';
  let best = '', run = '';
  for (const it of items) {
    if (it === BREAK) { if (run.length > best.length) best = run; run = ''; } else run += it;
  }
  if (run.length > best.length) best = run;
  return best;
}
// Self-check of requiredLiteral on hand-worked cases, so a change to it cannot silently make
// lib/ua.c skip rules that would have matched.
for (const [re, want] of [
  ['(Chrome)/(\\d+)', 'Chrome/'], ['(?:Mobile|Tablet);.{0,200}(Firefox)/(\\d+)\\.(\\d+)', 'Firefox/'],
  ['(Opera Mini)(?:/att|)/?(\\d+|)', 'Opera Mini'], ['ab?cd', 'cd'], ['(ab)?cdx', 'cdx'], ['a|b', ''],
  ['x{0,3}yz', 'yz'], ['(Fennec)/(\\d+)\\.(\\d+)(pre)', 'Fennec/'], ['(abc)+d', 'abc'], ['Win(?:dows|) NT', 'Win'],
  ['\\bfoo\\b', 'foo'], ['(?=abcd)x', 'x'], ['a{2}bcd', 'bcd'], ['(?i)abc', ''], ['[abc]def\\.g', 'def.g'],
]) {
  const got = requiredLiteral(re);
  if (got !== want) throw new Error(`requiredLiteral(${re}) = ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}
const required = (r) => {
  const lit = r.regex_flag === 'i' ? '' : requiredLiteral(r.regex);
  return lit.length >= 3 ? lit : undefined;
};

const yaml = parseUapYaml(fs.readFileSync(path.join(modules, 'uap-core', 'regexes.yaml'), 'utf8'));
const flag = (r) => (r.regex_flag === 'i' ? 1 : 0);
let ua = `/* Generated by lib/data/generate.js from uap-core ${uapVersion} (Apache-2.0). Do not edit. */\n`;
ua += 'static const struct ua_rule ua_rules[] = {\n';
for (const r of yaml.user_agent_parsers)
  ua += `    {${cString(r.regex)}, ${flag(r)}, ${cString(required(r))}, ${cString(r.family_replacement)}, ${cString(r.v1_replacement)}},\n`;
ua += '};\n\nstatic const struct os_rule os_rules[] = {\n';
for (const r of yaml.os_parsers)
  ua += `    {${cString(r.regex)}, ${flag(r)}, ${cString(required(r))}, ${cString(r.os_replacement)}, ${cString(r.os_v1_replacement)}, ${cString(r.os_v2_replacement)}},\n`;
ua += '};\n';
fs.writeFileSync(path.join(here, 'ua_regexes.inc'), ua);

const bots = JSON.parse(fs.readFileSync(path.join(modules, 'crawler-user-agents', 'crawler-user-agents.json'), 'utf8'));
// Most bot patterns are plain text with a few escaped punctuation marks ("Googlebot\/"). Those go
// into a literal table that lib/bot.c scans with a 3-byte hash, because one PCRE2 alternation of
// all 1,500 patterns costs ~170 us per user agent even with JIT; only the real regexes stay regexes.
function asLiteral(pattern) {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[++i];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) return null;   // \d, \s, \1, ...
      out += next;
    } else if ('^$.|?*+()[]{}'.includes(c)) {
      return null;
    } else {
      out += c;
    }
  }
  return out;
}
const literals = [];
const regexes = [];
for (const b of bots) {
  const lit = asLiteral(b.pattern);
  if (lit !== null && lit.length > 0) literals.push(lit);
  else regexes.push(b.pattern);
}
let bot = `/* Generated by lib/data/generate.js from crawler-user-agents ${botVersion} (MIT). Do not edit. */\n`;
bot += '/* Patterns that are plain text once their escapes are removed; matched as substrings. */\n';
bot += 'static const char *const bot_literals[] = {\n';
for (const l of literals) bot += `    ${cString(l)},\n`;
bot += '};\n\n/* Patterns that need a regex engine (case-sensitive PCRE2). */\n';
bot += 'static const char *const bot_regexes[] = {\n';
for (const r of regexes) bot += `    ${cString(r)},\n`;
bot += '};\n';
fs.writeFileSync(path.join(here, 'bot_patterns.inc'), bot);

// Every example user agent of crawler-user-agents, one a line, for tests/unit/test_bot.
const fixtures = path.join(here, '..', '..', 'tests', 'fixtures', 'ua');
fs.mkdirSync(fixtures, { recursive: true });
const instances = [];
for (const b of bots)
  for (const i of b.instances || [])
    if (i.length > 0 && !/[\r\n]/.test(i)) instances.push(i);
fs.writeFileSync(path.join(fixtures, 'crawler-instances.txt'), instances.join('\n') + '\n');

console.log(`ua_regexes.inc: ${yaml.user_agent_parsers.length} browser and ${yaml.os_parsers.length} OS rules (uap-core ${uapVersion}); ` +
            `bot_patterns.inc: ${literals.length} literal and ${regexes.length} regex patterns (crawler-user-agents ${botVersion}); ` +
            `crawler-instances.txt: ${instances.length} user agents`);
