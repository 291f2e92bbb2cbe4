/**
 * time.* builtins over int64 nanoseconds. The clock (`time.now_ns`) comes only from the
 * evaluation context. Go layouts ("2006-01-02T15:04:05Z07:00") are supported for parse/format.
 */
import { builtinError } from '../errors';
import { normInt, toBig } from '../number';
import type { Value } from '../value';
import { badType, int, str } from './args';
import { def } from './types';
import type { BuiltinContext, BuiltinDef } from './types';

const NS_PER_MS = 1_000_000n;
const MIN_NS = -(2n ** 63n);
const MAX_NS = 2n ** 63n - 1n;
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const NAMED_LAYOUTS: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  Kitchen: '3:04PM',
  Stamp: 'Jan _2 15:04:05',
  DateTime: '2006-01-02 15:04:05',
  DateOnly: '2006-01-02',
  TimeOnly: '15:04:05',
};

/** Broken-down civil time. */
type Civil = { year: number; month: number; day: number; hour: number; min: number; sec: number; nsec: number; offset: number; zone: string };

/** Current time from the evaluation context; there is no global clock. */
function now(ctx: BuiltinContext): bigint {
  if (ctx.context.nowNs === undefined) throw builtinError('time.now_ns', 'no clock in the evaluation context (pass context.nowNs)');
  return ctx.context.nowNs;
}

/** UTC offset in seconds of an IANA zone at an instant (Intl, available in every runtime). */
function zoneOffset(zone: string, ms: number): number {
  if (zone === 'UTC' || zone === '') return 0;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw builtinError('time', `unknown time zone ${zone}`);
  }
  const parts: Record<string, number> = {};
  for (const p of fmt.formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUTC = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return Math.round((asUTC - Math.floor(ms / 1000) * 1000) / 1000);
}

function zoneAbbrev(zone: string, offset: number): string {
  if (zone === 'UTC' || zone === '') return 'UTC';
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  return m ? `${sign}${String(h).padStart(2, '0')}${String(m).padStart(2, '0')}` : `${sign}${String(h).padStart(2, '0')}`;
}

function toCivil(ns: bigint, zone: string): Civil {
  const floorMs = ns >= 0n ? ns / NS_PER_MS : -((-ns + NS_PER_MS - 1n) / NS_PER_MS);
  const ms = Number(floorMs);
  const offset = zoneOffset(zone, ms);
  const d = new Date(ms + offset * 1000);
  const nsec = Number(ns - floorMs * NS_PER_MS) + d.getUTCMilliseconds() * 1_000_000;
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    min: d.getUTCMinutes(),
    sec: d.getUTCSeconds(),
    nsec,
    offset,
    zone,
  };
}

function fromCivil(c: Omit<Civil, 'zone'>): bigint {
  const d = new Date(0);
  d.setUTCFullYear(c.year, c.month - 1, c.day);
  d.setUTCHours(c.hour, c.min, c.sec, 0);
  return (BigInt(d.getTime()) - BigInt(c.offset) * 1000n) * NS_PER_MS + BigInt(c.nsec);
}

function checkRange(name: string, ns: bigint): Value {
  if (ns < MIN_NS || ns > MAX_NS) throw builtinError(name, 'time outside of valid range');
  return normInt(ns);
}

/** Operand `ns` or `[ns, tz]` / `[ns, tz, layout]`. */
function nsAndZone(name: string, a: Value[]): { ns: bigint; zone: string; layout: string | undefined } {
  const v = a[0]!;
  const n0 = Array.isArray(v) ? v[0] : v;
  if ((typeof n0 === 'number' && Math.abs(n0) > 9.2e18) || (typeof n0 === 'bigint' && (n0 > MAX_NS || n0 < MIN_NS)))
    throw builtinError(name, 'timestamp too big');
  if (typeof v === 'number' || typeof v === 'bigint') return { ns: toBig(typeof v === 'number' ? Math.trunc(v) : v), zone: 'UTC', layout: undefined };
  if (Array.isArray(v)) {
    const n = v[0];
    const z = v[1] ?? 'UTC';
    const l = v[2];
    if ((typeof n !== 'number' && typeof n !== 'bigint') || typeof z !== 'string' || (l !== undefined && typeof l !== 'string'))
      badType(name, 0, 'one of {number, array}', v);
    return { ns: toBig(typeof n === 'number' ? Math.trunc(n) : n), zone: z === '' ? 'UTC' : z === 'Local' ? 'UTC' : z, layout: l };
  }
  return badType(name, 0, 'one of {number, array}', v);
}

function pad(n: number, w: number): string {
  return String(Math.abs(n)).padStart(w, '0');
}

function weekday(c: Civil): number {
  return new Date(Date.UTC(2000, 0, 1) + 0).getUTCDay() * 0 + new Date(Date.UTC(c.year, c.month - 1, c.day)).getUTCDay();
}

const TOKENS = [
  'January',
  'Monday',
  '2006',
  '-07:00:00',
  '-070000',
  'Z07:00:00',
  'Z070000',
  'Z07:00',
  'Z0700',
  '-07:00',
  '-0700',
  'Z07',
  '-07',
  'Jan',
  'Mon',
  'MST',
  '002',
  '__2',
  '01',
  '02',
  '06',
  '_2',
  '15',
  '03',
  '04',
  '05',
  'PM',
  'pm',
  '1',
  '2',
  '3',
  '4',
  '5',
];

/** Splits a Go layout into literal text and tokens. */
function layoutTokens(layout: string): { tok?: string; lit?: string; frac?: string }[] {
  const out: { tok?: string; lit?: string; frac?: string }[] = [];
  let i = 0;
  while (i < layout.length) {
    const fm = /^[.,](0+|9+)/.exec(layout.slice(i));
    if (fm && !/\d/.test(layout[i + fm[0].length] ?? '')) {
      out.push({ frac: fm[0] });
      i += fm[0].length;
      continue;
    }
    const t = TOKENS.find((x) => layout.startsWith(x, i));
    if (t) {
      out.push({ tok: t });
      i += t.length;
      continue;
    }
    out.push({ lit: layout[i]! });
    i++;
  }
  return out;
}

function formatOffset(off: number, tok: string): string {
  if (tok.startsWith('Z') && off === 0) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  const h = pad(Math.floor(a / 3600), 2);
  const m = pad(Math.floor((a % 3600) / 60), 2);
  const s = pad(a % 60, 2);
  const t = tok.replace(/^Z/, '-');
  if (t === '-07') return sign + h;
  if (t === '-0700') return sign + h + m;
  if (t === '-07:00') return `${sign}${h}:${m}`;
  if (t === '-070000') return sign + h + m + s;
  return `${sign}${h}:${m}:${s}`;
}

/** Go's time.Format. */
export function formatTime(ns: bigint, zone: string, layout: string): string {
  const c = toCivil(ns, zone);
  let out = '';
  for (const p of layoutTokens(NAMED_LAYOUTS[layout] ?? layout)) {
    if (p.lit !== undefined) out += p.lit;
    else if (p.frac !== undefined) {
      const digits = p.frac.length - 1;
      let f = pad(c.nsec, 9).slice(0, digits);
      if (p.frac[1] === '9') {
        f = f.replace(/0+$/, '');
        if (f) out += p.frac[0] + f;
      } else out += p.frac[0] + f;
    } else {
      const t = p.tok!;
      switch (t) {
        case '2006':
          out += pad(c.year, 4);
          break;
        case '06':
          out += pad(c.year % 100, 2);
          break;
        case '01':
          out += pad(c.month, 2);
          break;
        case '1':
          out += String(c.month);
          break;
        case 'January':
          out += MONTHS[c.month - 1];
          break;
        case 'Jan':
          out += MONTHS[c.month - 1]!.slice(0, 3);
          break;
        case '02':
          out += pad(c.day, 2);
          break;
        case '2':
          out += String(c.day);
          break;
        case '_2':
          out += String(c.day).padStart(2, ' ');
          break;
        case '002':
        case '__2': {
          const yd = Math.round((Date.UTC(c.year, c.month - 1, c.day) - Date.UTC(c.year, 0, 1)) / 86400000) + 1;
          out += t === '002' ? pad(yd, 3) : String(yd).padStart(3, ' ');
          break;
        }
        case '15':
          out += pad(c.hour, 2);
          break;
        case '03':
          out += pad(c.hour % 12 || 12, 2);
          break;
        case '3':
          out += String(c.hour % 12 || 12);
          break;
        case '04':
          out += pad(c.min, 2);
          break;
        case '4':
          out += String(c.min);
          break;
        case '05':
          out += pad(c.sec, 2);
          break;
        case '5':
          out += String(c.sec);
          break;
        case 'PM':
          out += c.hour >= 12 ? 'PM' : 'AM';
          break;
        case 'pm':
          out += c.hour >= 12 ? 'pm' : 'am';
          break;
        case 'Monday':
          out += DAYS[weekday(c)];
          break;
        case 'Mon':
          out += DAYS[weekday(c)]!.slice(0, 3);
          break;
        case 'MST':
          out += zoneAbbrev(c.zone, c.offset);
          break;
        default:
          out += formatOffset(c.offset, t);
      }
    }
  }
  return out;
}

/** Go's time.Parse (UTC unless the value carries an offset). */
export function parseTime(name: string, layout: string, value: string): bigint {
  const toks = layoutTokens(NAMED_LAYOUTS[layout] ?? layout);
  const c = { year: 1, month: 1, day: 1, hour: 0, min: 0, sec: 0, nsec: 0, offset: 0 };
  let pm: boolean | undefined;
  let i = 0;
  const fail = (): never => {
    throw builtinError(
      name,
      `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(value.slice(i))} as ${JSON.stringify(layout)}`,
    );
  };
  const digits = (min: number, max: number): number => {
    const m = new RegExp(`^\\d{${min},${max}}`).exec(value.slice(i));
    if (!m) return fail();
    i += m[0].length;
    return Number(m[0]);
  };
  for (let k = 0; k < toks.length; k++) {
    const p = toks[k]!;
    if (p.lit !== undefined) {
      if (value[i] !== p.lit) fail();
      i++;
      continue;
    }
    if (p.frac !== undefined) {
      const m = /^[.,](\d+)/.exec(value.slice(i));
      if (!m) {
        if (p.frac[1] === '9') continue;
        fail();
      }
      c.nsec = Number(m![1]!.padEnd(9, '0').slice(0, 9));
      i += m![0].length;
      continue;
    }
    const t = p.tok!;
    switch (t) {
      case '2006':
        c.year = digits(4, 4);
        break;
      case '06':
        c.year = 2000 + digits(2, 2);
        if (c.year >= 2069) c.year -= 100;
        break;
      case '01':
        c.month = digits(2, 2);
        break;
      case '1':
        c.month = digits(1, 2);
        break;
      case 'January':
      case 'Jan': {
        const idx = MONTHS.findIndex((mo) => value.startsWith(t === 'Jan' ? mo.slice(0, 3) : mo, i));
        if (idx < 0) fail();
        i += t === 'Jan' ? 3 : MONTHS[idx]!.length;
        c.month = idx + 1;
        break;
      }
      case 'Monday':
      case 'Mon': {
        const d = DAYS.find((x) => value.startsWith(t === 'Mon' ? x.slice(0, 3) : x, i));
        if (!d) fail();
        i += t === 'Mon' ? 3 : d!.length;
        break;
      }
      case '02':
        c.day = digits(2, 2);
        break;
      case '2':
        c.day = digits(1, 2);
        break;
      case '_2':
        if (value[i] === ' ') i++;
        c.day = digits(1, 2);
        break;
      case '15':
        c.hour = digits(1, 2);
        break;
      case '03':
        c.hour = digits(2, 2);
        break;
      case '3':
        c.hour = digits(1, 2);
        break;
      case '04':
        c.min = digits(2, 2);
        break;
      case '4':
        c.min = digits(1, 2);
        break;
      case '05':
      case '5':
        c.sec = digits(t === '05' ? 2 : 1, 2);
        // Go accepts a fractional second after seconds even when the layout has none.
        if (toks[k + 1]?.frac === undefined) {
          const m = /^[.,](\d+)/.exec(value.slice(i));
          if (m) {
            c.nsec = Number(m[1]!.padEnd(9, '0').slice(0, 9));
            i += m[0].length;
          }
        }
        break;
      case 'PM':
      case 'pm': {
        const s = value.slice(i, i + 2).toUpperCase();
        if (s !== 'AM' && s !== 'PM') fail();
        pm = s === 'PM';
        i += 2;
        break;
      }
      case 'MST': {
        const m = /^[A-Z]{3,5}|^[+-]\d{2,4}/.exec(value.slice(i));
        if (!m) fail();
        i += m![0].length;
        break;
      }
      default: {
        if (t.startsWith('Z') && value[i] === 'Z') {
          i++;
          c.offset = 0;
          break;
        }
        const m = /^([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?/.exec(value.slice(i));
        if (!m) fail();
        i += m![0].length;
        const off = Number(m![2]) * 3600 + Number(m![3] ?? 0) * 60 + Number(m![4] ?? 0);
        c.offset = m![1] === '-' ? -off : off;
      }
    }
  }
  if (i !== value.length) throw builtinError(name, `parsing time ${JSON.stringify(value)}: extra text: ${JSON.stringify(value.slice(i))}`);
  if (pm !== undefined) {
    if (c.hour === 12) c.hour = 0;
    if (pm) c.hour += 12;
  }
  const dim = new Date(Date.UTC(c.year, c.month, 0)).getUTCDate();
  if (c.month < 1 || c.month > 12 || c.day < 1 || c.day > dim || c.hour > 23 || c.min > 59 || c.sec > 59) {
    throw builtinError(name, `parsing time ${JSON.stringify(value)}: day out of range`);
  }
  return fromCivil(c);
}

const UNITS: Record<string, bigint> = { ns: 1n, us: 1000n, µs: 1000n, μs: 1000n, ms: 1000000n, s: 1000000000n, m: 60000000000n, h: 3600000000000n };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): bigint {
  const orig = s;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw builtinError('time.parse_duration_ns', `time: invalid duration ${JSON.stringify(orig)}`);
  let total = 0n;
  while (s) {
    const m = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/.exec(s);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) throw builtinError('time.parse_duration_ns', `time: invalid duration ${JSON.stringify(orig)}`);
    const unit = UNITS[m[3]!]!;
    total += BigInt(m[1] || '0') * unit;
    if (m[2]) total += (BigInt(m[2]) * unit) / 10n ** BigInt(m[2].length);
    s = s.slice(m[0].length);
  }
  return neg ? -total : total;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Go's time.Time.Sub expressed as calendar differences (OPA's time.diff). */
function diff(a: Civil, b: Civil): number[] {
  let [x, y] = [a, b];
  if (fromCivil(x) < fromCivil(y)) [x, y] = [y, x];
  let year = x.year - y.year;
  let month = x.month - y.month;
  let day = x.day - y.day;
  let hour = x.hour - y.hour;
  let min = x.min - y.min;
  let sec = x.sec - y.sec;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    day += daysIn(y.year, y.month);
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec];
}

/** Registry entries of this family. */
export const timeBuiltins: BuiltinDef[] = [
  def('time.now_ns', 0, (_a, ctx) => normInt(now(ctx))),
  def('time.parse_ns', 2, (a) => checkRange('time.parse_ns', parseTime('time.parse_ns', str('time.parse_ns', a, 0), str('time.parse_ns', a, 1)))),
  def('time.parse_rfc3339_ns', 1, (a) =>
    checkRange('time.parse_rfc3339_ns', parseTime('time.parse_rfc3339_ns', 'RFC3339', str('time.parse_rfc3339_ns', a, 0))),
  ),
  def('time.parse_duration_ns', 1, (a) => normInt(parseDuration(str('time.parse_duration_ns', a, 0)))),
  def('time.date', 1, (a) => {
    const { ns, zone } = nsAndZone('time.date', a);
    const c = toCivil(ns, zone);
    return [c.year, c.month, c.day];
  }),
  def('time.clock', 1, (a) => {
    const { ns, zone } = nsAndZone('time.clock', a);
    const c = toCivil(ns, zone);
    return [c.hour, c.min, c.sec];
  }),
  def('time.weekday', 1, (a) => {
    const { ns, zone } = nsAndZone('time.weekday', a);
    return DAYS[weekday(toCivil(ns, zone))]!;
  }),
  def('time.format', 1, (a) => {
    const { ns, zone, layout } = nsAndZone('time.format', a);
    return formatTime(ns, zone, layout ?? 'RFC3339Nano');
  }),
  def('time.add_date', 4, (a) => {
    const ns = toBig(int('time.add_date', a, 0));
    const c = toCivil(ns, 'UTC');
    const y = Number(int('time.add_date', a, 1));
    const m = Number(int('time.add_date', a, 2));
    const d = Number(int('time.add_date', a, 3));
    const out = fromCivil({ ...c, year: c.year + y, month: c.month + m, day: c.day + d });
    return checkRange('time.add_date', out);
  }),
  def('time.diff', 2, (a) => {
    const x = nsAndZone('time.diff', [a[0]!]);
    const y = nsAndZone('time.diff', [a[1]!]);
    return diff(toCivil(x.ns, x.zone), toCivil(y.ns, x.zone));
  }),
];
