/**
 * Ports of a simulated node: which numbers are taken, and what a listener or a datagram socket
 * does with the port it holds.
 */
import { FIRST_DYNAMIC_PORT, LAST_PORT } from './constants.ts'

/** Port numbers of one protocol on one node; port 0 takes the next free one from 49152 up. */
export class PortSpace {
  private readonly used = new Set<number>()
  private cursor = FIRST_DYNAMIC_PORT

  get size(): number {
    return this.used.size
  }

  has(port: number): boolean {
    return this.used.has(port)
  }

  /** The next free dynamic port (wrapping round), or undefined when all are taken. */
  allocate(): number | undefined {
    const span = LAST_PORT - FIRST_DYNAMIC_PORT + 1
    for (let i = 0; i < span; i++) {
      const port = this.cursor
      this.cursor = port === LAST_PORT ? FIRST_DYNAMIC_PORT : port + 1
      if (!this.used.has(port)) {
        this.used.add(port)
        return port
      }
    }
    return undefined
  }

  /** Takes `port`; false when it is in use. */
  take(port: number): boolean {
    if (this.used.has(port)) return false
    this.used.add(port)
    return true
  }

  release(port: number): void {
    this.used.delete(port)
  }

  reset(): void {
    this.used.clear()
    this.cursor = FIRST_DYNAMIC_PORT
  }
}

/**
 * What a listener and a datagram socket have in common: a port in `space`, registered in its
 * node's `owners` table, held until close() (or the node's crash).
 */
export abstract class PortHolder {
  private isClosed = false

  constructor(
    private readonly owners: Pick<Map<number, unknown>, 'get' | 'delete'>,
    private readonly space: PortSpace,
    private readonly port: number,
  ) {}

  /** True after close(), or once its node crashed. */
  get closed(): boolean {
    return this.isClosed
  }

  close(): Promise<void> {
    this.shut()
    return Promise.resolve()
  }

  /** @internal Releases the port (if the node still has this holder on it). Idempotent. */
  shut(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.onShut()
    const port = this.port
    if (this.owners.get(port) === this) {
      this.owners.delete(port)
      this.space.release(port)
    }
  }

  /** Called once, by the first shut(), before the port is released. */
  protected onShut(): void {}
}
