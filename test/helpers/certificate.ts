/** A self-signed certificate and its key, made by openssl for a test. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Writes `<name>-key.pem` and `<name>-cert.pem` into `dir`: RSA 2048, valid for a day or two. */
export function selfSignedCertificate(
  dir: string,
  name: string,
  subject: string,
): { keyPath: string; certPath: string } {
  const keyPath = join(dir, `${name}-key.pem`);
  const certPath = join(dir, `${name}-cert.pem`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      subject,
    ],
    { stdio: "ignore" },
  );
  return { keyPath, certPath };
}
