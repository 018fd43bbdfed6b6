/**
 * The closed set of error codes: each error class in errors.ts takes only its
 * own list, so a code names one kind of failure wherever it is raised (and can
 * cross a thread boundary alone). Adding a failure means adding its code here.
 * Imports nothing.
 */

export const USAGE_CODES = ["USAGE", "USAGE_CONFLICT"] as const;
/** A value given to the library is outside what it accepts (InvalidSettingError). */
export const SETTING_CODES = ["INVALID_SETTING"] as const;
export const DIGEST_CODES = ["DIGEST_MISMATCH"] as const;
export const INVALID_CONTENT_CODES = [
  "BASE_NOT_IMAGE",
  "BLOB_NOT_FILE",
  "BLOB_RANGE_INVALID",
  "CONFIG_INVALID",
  "DESCRIPTOR_INVALID",
  "DIFF_ID_COUNT",
  "DIGEST_INVALID",
  "DIGEST_UNSUPPORTED",
  "DOCUMENT_KIND",
  "DOCUMENT_TOO_LARGE",
  "GROUP_UNKNOWN",
  "INDEX_INVALID",
  "INDEX_TOO_DEEP",
  "JSON_DUPLICATE_KEY",
  "JSON_INVALID",
  "JSON_TOO_DEEP",
  "LAYER_CORRUPT",
  "LAYER_FIELD_OUT_OF_RANGE",
  "LAYER_INVALID_TAR",
  "LAYER_MEDIA_TYPE",
  "LAYOUT_INDEX_INVALID",
  "LAYOUT_VERSION",
  "LAYOUT_MISSING",
  "MANIFEST_INVALID",
  "MANIFEST_SCHEMA1",
  "MEDIA_TYPE_UNSUPPORTED",
  "ROOTFS_FILE_TOO_LARGE",
  "USER_UNKNOWN",
] as const;
export const NOT_FOUND_CODES = [
  "BLOB_UNKNOWN",
  "LAYOUT_INDEX_MISSING",
  "LAYOUT_MISSING",
  "PLATFORM_UNKNOWN",
  "REF_UNKNOWN",
  "ROOTFS_MISSING",
] as const;
export const UNSAFE_LAYER_CODES = [
  "LAYER_BAD_LINK",
  "LAYER_BAD_WHITEOUT",
  "LAYER_HEADER_TOO_LARGE",
  "LAYER_INVALID_ENTRY",
  "LAYER_LINK_CLIMBS",
  "LAYER_LINK_SELF",
  "LAYER_PARENT_NOT_DIRECTORY",
  "LAYER_PATH_ABSOLUTE",
  "LAYER_PATH_CLIMBS",
  "LAYER_PATH_INVALID",
  "LAYER_PATH_TOO_LONG",
  "LAYER_ROOT_REPLACED",
  "LAYER_SYMLINK_LOOP",
  "LAYER_TOO_LARGE",
  "LAYER_UNKNOWN_TYPE",
  "LAYER_WHITEOUT_META",
] as const;
export const REGISTRY_CODES = [
  "AUTH_REALM_INVALID",
  "AUTH_TOKEN_INVALID",
  "BLOB_RANGE_INVALID",
  "BLOB_RANGES_REFUSED",
  "BLOB_UNKNOWN",
  "CREDENTIALS_UNREADABLE",
  "CREDENTIAL_HELPER",
  "DENIED",
  "DOCUMENT_TOO_LARGE",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "REDIRECT_INSECURE",
  "REDIRECT_INVALID",
  "REDIRECT_LOOP",
  "REGISTRY_UNREACHABLE",
  "TAG_INVALID",
  "TAG_LIST_INVALID",
  "TOOMANYREQUESTS",
  "UNAUTHORIZED",
  "UNSUPPORTED",
  "UPLOAD_INVALID",
] as const;
export const FILE_SYSTEM_CODES = [
  "FS_PERMISSION_DENIED",
  "FS_NOT_FOUND",
  "FS_NOT_DIRECTORY",
  "FS_IS_DIRECTORY",
  "FS_NOT_FILE",
  "FS_EXISTS",
  "FS_NO_SPACE",
  "FS_READ_ONLY",
  "FS_TOO_MANY_OPEN_FILES",
  "FS_SYMLINK_LOOP",
  "FS_NAME_TOO_LONG",
] as const;
/** Failures of the tool's own operations that are none of the kinds above. */
export const OPERATION_CODES = [
  "ABORTED",
  "BUNDLE_NOT_EMPTY",
  "BUNDLE_NOT_WRITABLE",
  "LAYER_DECODER_FAILED",
  "LAYER_READ_FAILED",
  "LAYOUT_INSIDE_ROOTFS",
  "LAYOUT_LOCKED",
  "LAYOUT_NOT_DIRECTORY",
  "ROOTFS_CHANGED",
  "ROOTFS_FILE_TYPE",
  "ROOTFS_NAME_ENCODING",
  "ROOTFS_NOT_DIRECTORY",
  "ROOTFS_SOCKET",
  "ROOTFS_UNREADABLE",
  "ROOTFS_WHITEOUT",
  "ZSTD_UNAVAILABLE",
] as const;

export type UsageCode = (typeof USAGE_CODES)[number];
export type SettingCode = (typeof SETTING_CODES)[number];
export type DigestCode = (typeof DIGEST_CODES)[number];
export type InvalidContentCode = (typeof INVALID_CONTENT_CODES)[number];
export type NotFoundCode = (typeof NOT_FOUND_CODES)[number];
export type UnsafeLayerCode = (typeof UNSAFE_LAYER_CODES)[number];
/** distribution-spec codes worth their own, else the final HTTP status. */
export type RegistryCode = (typeof REGISTRY_CODES)[number] | `HTTP_${number}`;
export type FileSystemCode = (typeof FILE_SYSTEM_CODES)[number];
export type OperationCode = (typeof OPERATION_CODES)[number];
/** Every code an error of this tool can carry. */
export type ErrorCode =
  | UsageCode
  | SettingCode
  | DigestCode
  | InvalidContentCode
  | NotFoundCode
  | UnsafeLayerCode
  | RegistryCode
  | FileSystemCode
  | OperationCode;
