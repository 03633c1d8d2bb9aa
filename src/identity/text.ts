/**
 * The rules for names people type (classifiers, friendly names), in one place: valid Unicode
 * (no lone surrogates, which UTF-8 cannot carry), normalised to NFC, no C0/C1 control
 * characters (NUL included), no Unicode noncharacters (U+FFFE and U+FFFF cannot appear in the
 * XML formats these names travel in), and a length in code points after normalisation.
 */
import { PeerError, type PeerErrorCode } from '../core/errors.ts'

// C0 controls (NUL included), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
// (String.prototype.isWellFormed is ES2024; this is the same test.)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const NONCHARACTER = /\p{Noncharacter_Code_Point}/u
/**
 * NFC composes at most 4 code points into one (U+1F82 from U+03B1 U+0313 U+0300 U+0345) and a
 * code point takes at most 2 UTF-16 units, so input longer than 8 units per allowed character
 * cannot normalise to a valid name: it is refused before any work is done on it.
 */
const MAX_UTF16_PER_CHARACTER = 8

export interface NameRules {
  /** 'a classifier', 'a friendly name': for messages. */
  what: string
  /** Most code points after NFC. */
  max: number
  code: PeerErrorCode
  /** Code for a name that is too long (default `code`). */
  tooLongCode?: PeerErrorCode
}

/** The longest UTF-16 input that may still normalise to a name of `max` characters. */
export function maxInputLength(max: number): number {
  return MAX_UTF16_PER_CHARACTER * max
}

/** Checks `value` under `rules` and returns it in NFC. */
export function normalizeName(value: unknown, rules: NameRules): string {
  const bad = (why: string): PeerError => new PeerError(rules.code, `${rules.what} ${why}`)
  const tooLong = (length: number, atLeast = false): PeerError =>
    new PeerError(
      rules.tooLongCode ?? rules.code,
      `${rules.what} holds at most ${rules.max} characters; this one has ${atLeast ? 'over ' : ''}${length}`,
      { details: { length, limit: rules.max } },
    )
  if (typeof value !== 'string') throw bad('must be a string')
  if (value.length > maxInputLength(rules.max)) throw tooLong(rules.max, true)
  if (LONE_SURROGATE.test(value)) throw bad('must be valid Unicode (it has a lone surrogate)')
  const nfc = value.normalize('NFC')
  if (CONTROL.test(nfc)) {
    throw bad(
      `may not contain ${nfc.includes('\u0000') ? 'a NUL character' : 'a control character'}`,
    )
  }
  if (NONCHARACTER.test(nfc)) throw bad('may not contain a Unicode noncharacter (such as U+FFFF)')
  const length = [...nfc].length
  if (length > rules.max) throw tooLong(length)
  return nfc
}
