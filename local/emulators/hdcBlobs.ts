/**
 * The Hardware Dev Center emulator's storage side, in Azurite: upload slots the client writes to
 * through a blob SAS (like Microsoft's ingestion account), the published signed packages,
 * driver metadata and error reports. SAS URLs are generated with the account key (sr=b) and are
 * secrets: nothing here logs them.
 */
import * as crypto from "node:crypto";
import type { RangeReader } from "../../src/preflight/rangeReader";
import { checkHlkx, checkPackage, RULES } from "../../src/preflight/rules";
import type { SignedPackageMode } from "./hdcBehaviour";
import { signedZipFromCab } from "./signedPackage";
import type { SigningChain } from "./signingChain";
import {
  BlobSASPermissions,
  BlobServiceClient,
  ContainerClient,
  RestError,
} from "@azure/storage-blob";

export const INGESTION_CONTAINER = "hdc-ingestion";
export const SIGNED_CONTAINER = "hdc-signed";
export const REPORTS_CONTAINER = "hdc-reports";

export interface UploadFacts {
  length: number;
  md5: string;
  sha256: string;
}

export interface PublishedPackage {
  container: string;
  signedBlob: string;
  metadataBlob: string;
}

/** A SAS URL the emulator handed out, recorded for tests (the signature is a secret: never log it). */
export interface IssuedSas {
  container: string;
  blob: string;
  permissions: string;
  /** The `sig` value. */
  signature: string;
  expiresOnMs: number;
  issuedAtMs: number;
}

export class HdcBlobs {
  private readonly service: BlobServiceClient;
  private readonly issued: IssuedSas[] = [];

  /** `signing`: the local test chain the signed packages' catalogs are signed with (signingChain.ts). */
  constructor(
    connectionString: string,
    private readonly signing?: SigningChain,
  ) {
    this.service = BlobServiceClient.fromConnectionString(connectionString);
  }

  private container(name: string): ContainerClient {
    return this.service.getContainerClient(name);
  }

  async ensureContainers(): Promise<void> {
    for (const name of [INGESTION_CONTAINER, SIGNED_CONTAINER, REPORTS_CONTAINER]) await this.container(name).createIfNotExists();
  }

  /** A blob-scoped SAS URL; `permissions` e.g. "rw" for the upload slot, "r" for downloads. */
  async sasUrl(container: string, blob: string, permissions: string, expiresOn: Date, fileName?: string): Promise<string> {
    const url = await this.container(container)
      .getBlobClient(blob)
      .generateSasUrl({
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn,
        contentDisposition: fileName ? `attachment; filename=${fileName}` : undefined,
      });
    const signature = new URL(url).searchParams.get("sig");
    if (signature) this.issued.push({ container, blob, permissions, signature, expiresOnMs: expiresOn.getTime(), issuedAtMs: Date.now() });
    return url;
  }

  /** Test-only: every SAS the emulator generated (signatures are secrets: never log or serve them). */
  issuedSas(): IssuedSas[] {
    return this.issued.map((sas) => ({ ...sas }));
  }

  /**
   * Microsoft's package rules at commit (issue 37): a cabinet upload ("MSCF") or an HLK/HCK archive
   * (a zip, "PK\x03\x04") is read with the service's own rules, and the first error Microsoft words
   * tersely (hdc-api.md (e)) is answered in Microsoft's text. Undefined when the upload is neither or
   * breaks none of those rules.
   */
  async packageRuleFailure(blob: string, size: number): Promise<string | undefined> {
    const client = this.container(INGESTION_CONTAINER).getBlobClient(blob);
    const reader: RangeReader = { size, read: async (offset, length) => (length === 0 ? new Uint8Array(0) : new Uint8Array(await client.downloadToBuffer(offset, length))) };
    const magic = size < 4 ? "" : Buffer.from(await reader.read(0, 4)).toString("latin1");
    if (magic === "PK\x03\x04") {
      // Of the HLKX rules, Microsoft words only Zip64 (hardware-submission-create.md); the others are the service's own.
      const report = await checkHlkx(reader);
      return report.findings.some((f) => f.code === RULES.zip64.code) ? "File is using Zip64(4gb+file Size)" : undefined;
    }
    if (magic !== "MSCF") return undefined;
    const report = await checkPackage(reader);
    if (report.findings.some((f) => f.code === RULES.rootFile.code)) return "There are files at the root of the cabinet.";
    const noInf = report.findings.filter((f) => f.code === RULES.folderWithoutInf.code).map((f) => f.file);
    if (noInf.length > 0) return `No .inf files found in driver directory/directories: ${noInf.join(", ")}`;
    return undefined;
  }

  /** Length and hashes of what the client uploaded; undefined when nothing (or an empty blob) arrived. */
  async inspectUpload(blob: string): Promise<UploadFacts | undefined> {
    const client = this.container(INGESTION_CONTAINER).getBlobClient(blob);
    try {
      const download = await client.download();
      const md5 = crypto.createHash("md5");
      const sha256 = crypto.createHash("sha256");
      let length = 0;
      for await (const chunk of download.readableStreamBody as AsyncIterable<Buffer>) {
        md5.update(chunk);
        sha256.update(chunk);
        length += chunk.length;
      }
      if (length === 0) return undefined;
      return { length, md5: md5.digest("base64"), sha256: sha256.digest("hex") };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /**
   * "Signs" the upload. A cabinet becomes what Microsoft returns (signedPackage.ts): a zip of its
   * driver folders, each with a catalog signed by the local test chain (`mode` picks a failing
   * case). Anything else (an HLKX, or a cabinet the emulator cannot read) is a server-side copy
   * (async Copy Blob within Azurite) as before. Either is tagged so tests can tell it from the
   * original; a driver metadata document goes beside it.
   */
  async publishSigned(uploadBlob: string, submissionId: string, upload: UploadFacts, expiresOn: Date, mode: SignedPackageMode = "valid"): Promise<PublishedPackage> {
    const signedBlob = `Signed_${submissionId}.zip`;
    const metadataBlob = `driverMetadata_${submissionId}.json`;
    const target = this.container(SIGNED_CONTAINER).getBlockBlobClient(signedBlob);
    const metadata = { signedby: "hdc-emulator", sourcelength: String(upload.length), sourcesha256: upload.sha256 };
    const zip = this.signing ? await this.signedZip(uploadBlob, upload, mode) : undefined;
    if (zip) {
      await target.uploadData(zip, { metadata: { ...metadata, signedpackage: mode }, blobHTTPHeaders: { blobContentType: "application/zip" } });
    } else {
      const sourceUrl = await this.sasUrl(INGESTION_CONTAINER, uploadBlob, "r", expiresOn);
      const poller = await target.beginCopyFromURL(sourceUrl, { metadata, intervalInMs: 200 });
      await poller.pollUntilDone();
    }
    await this.writeDriverMetadata(metadataBlob, submissionId);
    return { container: SIGNED_CONTAINER, signedBlob, metadataBlob };
  }

  /** The signed zip of a cabinet upload (read whole: emulator packages are small); undefined for anything else. */
  private async signedZip(uploadBlob: string, upload: UploadFacts, mode: SignedPackageMode): Promise<Buffer | undefined> {
    const client = this.container(INGESTION_CONTAINER).getBlobClient(uploadBlob);
    if (upload.length < 4 || (await client.downloadToBuffer(0, 4)).toString("latin1") !== "MSCF") return undefined;
    return signedZipFromCab(await client.downloadToBuffer(), this.signing!, mode);
  }

  private async writeDriverMetadata(metadataBlob: string, submissionId: string): Promise<void> {
    const metadata = {
      BundleInfoMap: {
        [crypto.randomUUID()]: {
          Locales: ["en-US"],
          InfInfoMap: {
            "emulated.inf": {
              DriverPackageFamilyId: `emulated_${submissionId}`,
              InfClass: "System",
              DriverVersion: "1.0.0.0",
              DriverDate: "2025-01-01",
              Provider: "HDC emulator",
              ClassGuid: "{4d36e97d-e325-11ce-bfc1-08002be10318}",
              InstallationComputerHardwareIds: [],
              OSPnPInfoMap: { WINDOWS_v100_X64_RS5_FULL: { "root\\emulated": { Manufacturer: "Emulated", DeviceDescription: "Emulated device", FeatureScore: "FF" } } },
            },
          },
        },
      },
    };
    const text = JSON.stringify(metadata, null, 2);
    await this.container(SIGNED_CONTAINER).getBlockBlobClient(metadataBlob).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: "application/json" },
    });
  }

  async writeErrorReport(submissionId: string, text: string): Promise<string> {
    const blob = `errorReport_${submissionId}_${crypto.randomUUID()}.txt`;
    await this.container(REPORTS_CONTAINER).getBlockBlobClient(blob).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: "text/plain; charset=utf-8" },
    });
    return blob;
  }

  async clear(): Promise<void> {
    for (const name of [INGESTION_CONTAINER, SIGNED_CONTAINER, REPORTS_CONTAINER]) {
      const container = this.container(name);
      for await (const blob of container.listBlobsFlat()) await container.deleteBlob(blob.name).catch(() => undefined);
    }
  }
}
