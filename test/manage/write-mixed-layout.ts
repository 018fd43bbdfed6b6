/**
 * Writes the mixed layout in a process of its own: a process that wrote blobs
 * counts as a running writer until it ends, and gc keeps what such a writer
 * may still name.
 */
import { writeMixedLayout } from "./layouts.js";

await writeMixedLayout(process.argv[2]!);
