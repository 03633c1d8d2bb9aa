/** The events the simulated network queues; one class, so the hot path stays monomorphic. */
import type { SimDatagramSocket } from './datagrams.ts'
import type { SimNode } from './network.ts'
import type { PendingDial, Pipe, SimDuplex } from './streams.ts'

/** A datagram arrives at `node`:`port` from the socket `from`. */
export const EV_DATAGRAM = 0
/** The head segment of `pipe` arrives at its reader (on `node`). */
export const EV_PIPE = 1
/** The connection request of `dial` arrives at `node`:`port`. */
export const EV_SYN = 2
/** `end` (on `node`) has handler calls to make: buffered data, drain or close. */
export const EV_FLUSH = 3

export class SimEvent {
  cancelled = false
  data: Uint8Array | undefined = undefined
  from: SimDatagramSocket | undefined = undefined
  port = 0
  label: string | undefined = undefined
  pipe: Pipe | undefined = undefined
  end: SimDuplex | undefined = undefined
  dial: PendingDial | undefined = undefined

  constructor(
    readonly at: number,
    readonly seq: number,
    readonly type: number,
    /** The node where the event takes effect (its destination). */
    readonly node: SimNode,
  ) {}
}
