/** Graph status (windows-api.md section 1: LISTENING 1, HAS_CONNECTIONS 2, SYNCHRONIZED 4). */
import { STATUS_HAS_CONNECTIONS, STATUS_LISTENING, STATUS_SYNCHRONIZED } from './constants.ts'

export interface GraphStatus {
  listening: boolean
  hasConnections: boolean
  synchronized: boolean
}

/** The Windows PEER_GRAPH_STATUS_FLAGS bits of a status. */
export function statusFlags(s: GraphStatus): number {
  return (
    (s.listening ? STATUS_LISTENING : 0) |
    (s.hasConnections ? STATUS_HAS_CONNECTIONS : 0) |
    (s.synchronized ? STATUS_SYNCHRONIZED : 0)
  )
}
