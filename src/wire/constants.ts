/** Limits of the wire layer's decoders (docs/LIMITS.md lists them with every other limit). */

/** Largest CBOR document any decoder accepts unless its caller names a smaller bound. */
export const MAX_CBOR_BYTES = 16 * 1024 * 1024
/** Deepest nesting of arrays and maps in a CBOR document (our messages need under 8). */
export const MAX_CBOR_DEPTH = 16
/** Most data items (every scalar, array and map counts one) in one CBOR document. */
export const MAX_CBOR_ITEMS = 100_000

/** Largest XML document parsed (Windows formats: identity info, exports, invitations, queries). */
export const MAX_XML_BYTES = 256 * 1024
/** Deepest element nesting in XML. */
export const MAX_XML_DEPTH = 32
/** Most elements in one XML document. */
export const MAX_XML_ELEMENTS = 10_000
/** Most attributes on one XML element (Windows' formats use a handful). */
export const MAX_XML_ATTRIBUTES = 64
