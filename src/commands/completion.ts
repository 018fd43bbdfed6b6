// PLACEHOLDER: replaced by the real command.
import { Command } from "commander";
import type { CommandContext } from "./context.js";
import { OciImageError } from "../errors.js";

export function completionCommand(_context: CommandContext): Command {
  return new Command("completion").description("(not yet built)").allowUnknownOption().allowExcessArguments().action(() => {
    throw new OciImageError("NOT_IMPLEMENTED", "completion is not built yet");
  });
}
