/** Types shared by the PNRP modules. */
import type { PnrpId } from './ids.ts'

/** A transport endpoint: an IP literal (or a simulator node name) and a port. */
export interface Endpoint {
  address: string
  port: number
}

/** MS-PNRP 1.4 ROUTE_ENTRY: a PNRP ID and where the node that holds it listens for PNRP. */
export interface RouteEntry {
  id: PnrpId
  /** 1..MAX_ROUTE_ENDPOINTS endpoints; the first is the one used. */
  endpoints: Endpoint[]
}
