export { PeerNode, type PeerNodeOptions } from './peer-node.ts'
export { resolveDataDir, HOME_ENV_VAR } from './home.ts'
