/**
 * Randomness, injected. Protocol code takes a Random from its caller: the system source (a
 * CSPRNG) in real use, a seeded one in tests and the simulator, so a run replays from its seed.
 * Key generation also draws from it, which is what makes simulated identities reproducible;
 * a seeded source must never be used for real keys.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { PeerError } from './errors.ts'

export interface Random {
  /** `n` uniformly random bytes. */
  bytes(n: number): Uint8Array
  /** A uniform integer in [0, maxExclusive), maxExclusive in 1 .. 2^48. */
  int(maxExclusive: number): number
  /** A uniform float in [0, 1). */
  float(): number
  /** True for a seeded (reproducible, not secret) source. */
  readonly deterministic: boolean
}

const MAX_INT_RANGE = 2 ** 48

function checkRange(maxExclusive: number): void {
  if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > MAX_INT_RANGE) {
    throw new PeerError(
      'E_INVALIDARG',
      `random.int needs an integer range 1..2^48, got ${maxExclusive}`,
    )
  }
}

function checkLength(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 1 << 30) {
    throw new PeerError('E_INVALIDARG', `random.bytes needs a length 0..2^30, got ${n}`)
  }
}

/** The operating system's CSPRNG. */
export class SystemRandom implements Random {
  readonly deterministic = false

  bytes(n: number): Uint8Array {
    checkLength(n)
    return new Uint8Array(randomBytes(n))
  }

  int(maxExclusive: number): number {
    checkRange(maxExclusive)
    if (maxExclusive === 1) return 0
    // crypto.randomInt needs max < 2^48, so the full 48-bit range is read directly.
    return maxExclusive === MAX_INT_RANGE ? random48() : randomInt(maxExclusive)
  }

  float(): number {
    return random48() / MAX_INT_RANGE
  }
}

/** 48 uniform bits from the CSPRNG. */
function random48(): number {
  return randomBytes(6).readUIntBE(0, 6)
}

export const systemRandom: Random = new SystemRandom()

/**
 * A reproducible source: xoshiro128** (Blackman and Vigna), seeded through SHA-256 of the
 * seed so that any number or string gives a well-mixed, non-zero state.
 */
export class SeededRandom implements Random {
  readonly deterministic = true
  readonly seed: string
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  constructor(seed: number | string) {
    this.seed = String(seed)
    const h = createHash('sha256').update('peerinfra/seeded-random\0').update(this.seed).digest()
    this.s0 = h.readUInt32LE(0)
    this.s1 = h.readUInt32LE(4)
    this.s2 = h.readUInt32LE(8)
    this.s3 = h.readUInt32LE(12)
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /** A child source whose stream depends on this one's seed and `label` only. */
  fork(label: string): SeededRandom {
    return new SeededRandom(`${this.seed}/${label}`)
  }

  /** The next 32 random bits, as an unsigned integer. */
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result
  }

  bytes(n: number): Uint8Array {
    checkLength(n)
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 4) {
      let w = this.next32()
      for (let j = i; j < Math.min(i + 4, n); j++) {
        out[j] = w & 0xff
        w >>>= 8
      }
    }
    return out
  }

  int(maxExclusive: number): number {
    checkRange(maxExclusive)
    if (maxExclusive <= 2 ** 32) {
      // Rejection sampling keeps the result unbiased.
      const limit = 2 ** 32 - (2 ** 32 % maxExclusive)
      for (;;) {
        const x = this.next32()
        if (x < limit) return x % maxExclusive
      }
    }
    for (;;) {
      const x = this.float48()
      const limit = MAX_INT_RANGE - (MAX_INT_RANGE % maxExclusive)
      if (x < limit) return x % maxExclusive
    }
  }

  float(): number {
    return this.float48() / MAX_INT_RANGE
  }

  private float48(): number {
    return (this.next32() >>> 16) * 2 ** 32 + this.next32()
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
