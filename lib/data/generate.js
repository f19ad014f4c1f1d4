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

// What every match of a rule must contain: a list of texts of 3+ bytes of which at least one
// occurs in any matching user agent ("any of"), or null when no such list is found. lib/ua.c
// skips a rule at once when, for every text of the list, the user agent lacks one of its 3-byte
// pieces; uap-core's ~550 rules are tried in order and most fail, so this saves most of the work.
// Conservative by construction: anything not understood counts as "could be anything".
const MIN_LIT = 3;
function requirement(re) {
  if (/\(\?[a-zA-Z-]*x|\\[QEx0-9pPcN]/.test(re)) return null;   // extended mode, quoting, escapes not modelled
  // (?i) and regex_flag 'i' need nothing special: the pieces are compared case-insensitively.
  const BREAK = null;
  let i = 0;
  // The best requirement of one branch (a list of characters, BREAKs and {set} items).
  function branchRequirement(items) {
    const cands = [];
    let run = '';
    for (const it of items) {
      if (typeof it === 'string') { run += it; continue; }
      if (run.length >= MIN_LIT) cands.push([run]);
      run = '';
      if (it !== BREAK) cands.push(it.set);
    }
    if (run.length >= MIN_LIT) cands.push([run]);
    if (cands.length === 0) return null;
    // Prefer the list whose shortest text is longest (fewer chance hits), then the shorter list.
    const score = (s) => Math.min(...s.map((x) => x.length)) * 1000 - s.length;
    return cands.reduce((a, b) => (score(b) > score(a) ? b : a));
  }
  function alternativesRequirement(branches) {
    if (branches.length === 1) return branchRequirement(branches[0]);
    const all = [];
    for (const b of branches) {
      const r = branchRequirement(b);
      if (r === null) return null;
      all.push(...r);
    }
    return [...new Set(all)];
  }
  // Parses until ')' or the end; returns the branches (lists of items) separated by '|'.
  function alternatives() {
    const branches = [[]];
    while (i < re.length && re[i] !== ')') {
      const out = branches[branches.length - 1];
      const c = re[i];
      let atom;                 // the items this atom contributes when present exactly once
      if (c === '|') { branches.push([]); i++; continue; }
      if (c === '\\') {
        const n = re[i + 1]; i += 2;
        if (n === undefined) throw new Error('trailing backslash');
        atom = /[A-Za-z0-9]/.test(n) ? [BREAK] : [n];
      } else if (c === '[') {
        let j = i + 1; if (re[j] === '^') j++; if (re[j] === ']') j++;
        for (; j < re.length && re[j] !== ']'; j++) if (re[j] === '\\') j++;
        if (j >= re.length) throw new Error('unterminated class');
        // [Ss] is one letter in either case: lib/ua.c compares 3-byte pieces case-insensitively.
        const body = re.slice(i + 1, j);
        const caseClass = /^[A-Za-z]{2}$/.test(body) && body[0] !== body[1] && body[0].toLowerCase() === body[1].toLowerCase();
        i = j + 1; atom = caseClass ? [body[0].toLowerCase()] : [BREAK];
      } else if (c === '(') {
        i++;
        let look = false;
        if (re[i] === '?') {
          const flags = /^\?[a-zA-Z-]+([:)])/.exec(re.slice(i));   // (?i) or (?i:...); (?x) refused above
          if (flags && flags[1] === ')') { i += flags[0].length; continue; }
          if (flags) i += flags[0].length;
          else if (re[i + 1] === ':') i += 2;
          else if (/^(\?=|\?!|\?<=|\?<!)/.test(re.slice(i))) { look = true; i += re[i + 1] === '<' ? 3 : 2; }
          else throw new Error('unknown group ' + re.slice(i - 1, i + 4));
        }
        const inner = alternatives();
        if (re[i] !== ')') throw new Error('unbalanced');
        i++;
        if (look) atom = [BREAK];
        // A group without alternation matches its content exactly once (unless a quantifier
        // follows), so its characters may join the surrounding run; one with alternation
        // contributes the union of its branches' requirements as a single item.
        else if (inner.length === 1) atom = inner[0];
        else {
          const r = alternativesRequirement(inner);
          atom = r === null ? [BREAK] : [BREAK, { set: r }, BREAK];
        }
      } else if ('.^$'.includes(c)) {
        i++; atom = [BREAK];
      } else if ('?*+{'.includes(c)) {
        throw new Error('quantifier without atom at ' + i);
      } else {
        i++; atom = [c];
      }
      // A quantifier after the atom: optional atoms require nothing, repeated ones stand alone.
      const q = re[i];
      if (q === '?' || q === '*') {
        i++; if (re[i] === '?' || re[i] === '+') i++;
        out.push(BREAK);
      } else if (q === '+') {
        i++; if (re[i] === '?' || re[i] === '+') i++;
        out.push(BREAK, ...atom, BREAK);
      } else if (q === '{' && /^\{\d+(,\d*)?\}/.test(re.slice(i))) {
        const m = /^\{(\d+)(,\d*)?\}/.exec(re.slice(i));
        i += m[0].length; if (re[i] === '?' || re[i] === '+') i++;
        if (Number(m[1]) === 0) out.push(BREAK); else out.push(BREAK, ...atom, BREAK);
      } else {
        out.push(...atom);
      }
    }
    return branches;
  }
  try {
    const branches = alternatives();
    if (i !== re.length) return null;   // stray ')'
    return alternativesRequirement(branches);
  } catch (e) {
    return null;
  }
}

// Self-check of requirement() on hand-worked cases, so a change to it cannot silently make
// lib/ua.c skip rules that would have matched.
for (const [re, want] of [
  ['(Chrome)/(\\d+)', ['Chrome/']], ['(?:Mobile|Tablet);.{0,200}(Firefox)/(\\d+)\\.(\\d+)', ['Firefox/']],
  ['(Opera Mini)(?:/att|)/?(\\d+|)', ['Opera Mini']], ['abx?cde', ['cde']], ['(ab)?cdx', ['cdx']], ['a|b', null],
  ['x{0,3}yz1', ['yz1']], ['(Fennec)/(\\d+)\\.(\\d+)(pre)', ['Fennec/']], ['(abc)+d', ['abc']],
  ['Win(?:dows|) NT', ['Win']], ['\\bfoo\\b', ['foo']], ['(?=abcd)xyz', ['xyz']], ['a{2}bcd', ['bcd']],
  ['(?i)abcd', ['abcd']], ['x(?i:abcd)?', null], ['(?i:abcd)e', ['abcde']], ['(?x)abcd', null], ['[Ss]pider|[Cc][Rr]awl', ['spider', 'crawl']], ['[Ssx]pider', ['pider']], ['[abc]def\\.g', ['def.g']], ['(Chromium|Chrome)/(\\d+)', ['Chromium', 'Chrome']],
  ['AspiegelBot|PetalBot', ['AspiegelBot', 'PetalBot']], ['(abcd|e)fg', null], ['(abcd|efg)?x', null],
  ['(?:abcd|efgh|)xy', null], ['\\b(abc|de\\.f)/(\\d+)', ['abc', 'de.f']], ['^(foo|bar)$', ['foo', 'bar']],
  ['(x(?:abcd|efgh)y)+', ['abcd', 'efgh']], ['q(?:abcd|efgh){0,2}', null],
]) {
  const got = requirement(re);
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`requirement(${re}) = ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}
// As one C string: each text followed by a NUL byte; the literal's own NUL then ends the list.
const required = (r) => {
  const req = requirement(r.regex);
  return req === null ? undefined : req.join('\0') + '\0';
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
