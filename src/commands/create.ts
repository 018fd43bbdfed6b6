// PLACEHOLDER: replaced by the real command.
import { Command } from "commander";
import type { CommandContext } from "./context.js";
import { OciImageError } from "../errors.js";

export function createCommand(_context: CommandContext): Command {
  return new Command("create").description("(not yet built)").allowUnknownOption().allowExcessArguments().action(() => {
    throw new OciImageError("NOT_IMPLEMENTED", "create is not built yet");
  });
}
