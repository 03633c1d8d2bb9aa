/** PNRP: serverless peer name resolution (the public part; the protocol lives beside it). */
export {
  PnrpService,
  PnrpRegistration,
  type PnrpOptions,
  type PnrpRecord,
  type PnrpEvents,
  type RegisterOptions,
  type UpdateOptions,
  type ResolveOptions,
  type ResolveCriteria,
  type LinkInterface,
} from './service.ts'
export {
  GLOBAL_CLOUD,
  LINK_LOCAL_PREFIX,
  ALL_LINK_LOCAL,
  SCOPE_IDS,
  type CloudInfo,
  type CloudScope,
  type CloudState,
  type CloudFlag,
  type LinkDiscovery,
} from './cloud.ts'
export { formatEndpoint, parseEndpoint } from './endpoints.ts'
export { DEFAULT_PNRP_PORT } from './constants.ts'
export type { Endpoint } from './types.ts'
