/**
 * Punycode, RFC 3492 (Bootstring with the Punycode parameters of section 5), implemented from
 * the algorithms of sections 6.1 to 6.4.
 *
 * This is plain Punycode only: no IDNA ToASCII/ToUnicode, no nameprep or UTS 46 mapping, no
 * 'xn--' prefix, and no case folding. Basic (ASCII) code points are copied verbatim, case
 * included, because peer-name classifiers are case-sensitive and must round-trip exactly.
 *
 * Strings are handled as sequences of Unicode code points (not UTF-16 code units), so astral
 * characters are a single code point each. Surrogate code points (U+D800..U+DFFF) are not
 * Unicode scalar values and are rejected in both directions.
 */

const BASE = 36
const TMIN = 1
const TMAX = 26
const SKEW = 38
const DAMP = 700
const INITIAL_BIAS = 72
const INITIAL_N = 0x80
const DELIMITER = 0x2d // '-'

/** Largest integer any intermediate value may reach; larger is reported as overflow (6.4). */
const MAX_INT = 0x7fff_ffff
const MAX_CODE_POINT = 0x10_ffff

/** Longest input `punycodeDecode` accepts, in characters. Bounds the decoder's work. */
export const MAX_PUNYCODE_INPUT = 1024

function isSurrogate(cp: number): boolean {
  return cp >= 0xd800 && cp <= 0xdfff
}

/** Section 6.1. */
function adapt(delta: number, numPoints: number, firstTime: boolean): number {
  let d = firstTime ? Math.floor(delta / DAMP) : Math.floor(delta / 2)
  d += Math.floor(d / numPoints)
  let k = 0
  while (d > ((BASE - TMIN) * TMAX) >> 1) {
    d = Math.floor(d / (BASE - TMIN))
    k += BASE
  }
  return k + Math.floor(((BASE - TMIN + 1) * d) / (d + SKEW))
}

/** Threshold t for the digit position whose k = base * (j + 1). */
function threshold(k: number, bias: number): number {
  if (k <= bias) return TMIN
  if (k >= bias + TMAX) return TMAX
  return k - bias
}

/** Digit value 0..35 to its lowercase basic code point: a-z are 0-25, 0-9 are 26-35. */
function digitToBasic(digit: number): number {
  return digit < 26 ? 0x61 + digit : 0x30 + (digit - 26)
}

/** Basic code point to its digit value (both letter cases accepted), or -1 if it has none. */
function basicToDigit(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30 + 26
  if (cp >= 0x41 && cp <= 0x5a) return cp - 0x41
  if (cp >= 0x61 && cp <= 0x7a) return cp - 0x61
  return -1
}

function describe(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
}

/**
 * Encodes a string into its Punycode form (section 6.3), without any 'xn--' prefix. Basic code
 * points are kept as they are, case included. Throws RangeError on overflow or on a lone
 * surrogate in the input.
 */
export function punycodeEncode(input: string): string {
  const codePoints: number[] = []
  for (const ch of input) {
    // for...of iterates by code point; a lone surrogate comes out as one unit
    const cp = ch.codePointAt(0) as number
    if (isSurrogate(cp)) {
      throw new RangeError(`punycode: cannot encode lone surrogate ${describe(cp)}`)
    }
    codePoints.push(cp)
  }

  let output = ''
  for (const cp of codePoints) {
    if (cp < INITIAL_N) output += String.fromCharCode(cp)
  }
  const basicCount = output.length
  let handled = basicCount
  if (basicCount > 0) output += String.fromCharCode(DELIMITER)

  let n = INITIAL_N
  let delta = 0
  let bias = INITIAL_BIAS
  while (handled < codePoints.length) {
    // the smallest code point not yet handled; one exists because handled < length
    let m = MAX_INT
    for (const cp of codePoints) {
      if (cp >= n && cp < m) m = cp
    }
    if (m - n > Math.floor((MAX_INT - delta) / (handled + 1))) {
      throw new RangeError('punycode: overflow while encoding (input too long)')
    }
    delta += (m - n) * (handled + 1)
    n = m

    for (const cp of codePoints) {
      if (cp < n) {
        delta++
        if (delta > MAX_INT) {
          throw new RangeError('punycode: overflow while encoding (input too long)')
        }
      } else if (cp === n) {
        let q = delta
        for (let k = BASE; ; k += BASE) {
          const t = threshold(k, bias)
          if (q < t) break
          output += String.fromCharCode(digitToBasic(t + ((q - t) % (BASE - t))))
          q = Math.floor((q - t) / (BASE - t))
        }
        output += String.fromCharCode(digitToBasic(q))
        bias = adapt(delta, handled + 1, handled === basicCount)
        delta = 0
        handled++
      }
    }
    delta++
    n++
  }
  return output
}

/**
 * Decodes a Punycode string (section 6.2), given without any 'xn--' prefix. Letters in the
 * encoded part are accepted in either case. Throws RangeError on: input longer than
 * MAX_PUNYCODE_INPUT, a non-basic character, an invalid or missing digit, overflow, or a decoded
 * code point above U+10FFFF or in the surrogate range.
 */
export function punycodeDecode(input: string): string {
  if (input.length > MAX_PUNYCODE_INPUT) {
    throw new RangeError(
      `punycode: input is ${input.length} characters, longer than the limit of ${MAX_PUNYCODE_INPUT}`,
    )
  }
  // UTF-16 units suffice here: every accepted character is basic, so one unit is one code point
  for (let j = 0; j < input.length; j++) {
    const unit = input.charCodeAt(j)
    if (unit >= INITIAL_N) {
      throw new RangeError(
        `punycode: non-basic character ${describe(unit)} at index ${j} in encoded input`,
      )
    }
  }

  // Each inserted code point consumes at least one input character, so the output never holds
  // more code points than the input has characters.
  const output: number[] = []
  const lastDelimiter = input.lastIndexOf(String.fromCharCode(DELIMITER))
  const literalLength = lastDelimiter > 0 ? lastDelimiter : 0
  for (let j = 0; j < literalLength; j++) output.push(input.charCodeAt(j))
  let pos = literalLength > 0 ? literalLength + 1 : 0

  let n = INITIAL_N
  let i = 0
  let bias = INITIAL_BIAS
  while (pos < input.length) {
    const oldI = i
    let w = 1
    for (let k = BASE; ; k += BASE) {
      if (pos >= input.length) {
        throw new RangeError('punycode: truncated input (incomplete delta at end)')
      }
      const at = pos
      const digit = basicToDigit(input.charCodeAt(pos++))
      if (digit < 0) {
        throw new RangeError(
          `punycode: invalid digit ${JSON.stringify(input[at])} at index ${at} in encoded input`,
        )
      }
      if (digit > Math.floor((MAX_INT - i) / w)) {
        throw new RangeError('punycode: overflow while decoding (delta too large)')
      }
      i += digit * w
      const t = threshold(k, bias)
      if (digit < t) break
      if (w > Math.floor(MAX_INT / (BASE - t))) {
        throw new RangeError('punycode: overflow while decoding (delta too large)')
      }
      w *= BASE - t
    }
    const length = output.length + 1
    bias = adapt(i - oldI, length, oldI === 0)
    if (Math.floor(i / length) > MAX_INT - n) {
      throw new RangeError('punycode: overflow while decoding (code point too large)')
    }
    n += Math.floor(i / length)
    i %= length
    // n only grows, so once it is out of range the decode can never succeed
    if (n > MAX_CODE_POINT) {
      throw new RangeError(`punycode: decoded code point ${describe(n)} is beyond U+10FFFF`)
    }
    if (isSurrogate(n)) {
      throw new RangeError(`punycode: decoded code point ${describe(n)} is a surrogate`)
    }
    // n >= INITIAL_N always, so it is never basic (the braced check of 6.2 is not needed)
    output.splice(i, 0, n)
    i++
  }
  return String.fromCodePoint(...output)
}
