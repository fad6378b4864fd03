/**
 * Publishing after signing (issue 11): the publish policy a user declares (sidecar `publish` or the
 * `publish` field of POST /api/submissions), the NewShippingLabel body it expands to, the driver
 * metadata it expands from, and the phases we report for a label.
 *
 * Facts: /work/shared/reference/shipping-labels.md (sections 2-4). Like every domain type, all of
 * this may land in orchestration history or a manifest: no SAS URL (the metadata's download URL
 * and a label's errorReport URL never appear here).
 */

export type PublishDestination = "windowsUpdate" | "anotherPartner";

/** Windows release codes accepted by inServicePublishInfo, oldest first (the service's list grows). */
export const OS_RELEASES = ["TH", "RS1", "RS2", "RS3", "RS4", "RS5", "19H1", "VB", "FE", "CO", "NI", "MN"] as const;
export type OsRelease = (typeof OS_RELEASES)[number];

/**
 * One include/exclude rule over the driver metadata. Every given field must match; patterns are
 * globs (`*`, `?`), case-insensitive. A rule names at least one field.
 */
export interface HardwareIdRule {
  /** INF file name, e.g. "contoso_usb.inf" or "contoso_*.inf". */
  inf?: string;
  /** OS code, e.g. "WINDOWS_v100_X64_*". */
  osCode?: string;
  /** PnP id, e.g. "usb\\vid_045e&pid_*". */
  pnp?: string;
}

export interface HardwareIdSelection {
  /** When given, an id must match at least one include rule. */
  include?: HardwareIdRule[];
  /** An id matching any exclude rule is dropped (after include). */
  exclude?: HardwareIdRule[];
}

/** additionalInfoForMsApproval: required when either auto-install flag is set. */
export interface ApprovalInfo {
  microsoftContact: string;
  validationsPerformed: string;
  affectedOems: string[];
  businessJustification: string;
  isRebootRequired?: boolean;
  isCoEngineered?: boolean;
  isForUnreleasedHardware?: boolean;
  hasUiSoftware?: boolean;
}

/** The `publish` section as a user writes it. Only `destination` is required. */
export interface PublishPolicy {
  destination: PublishDestination;
  /** Label name; default "<productName> <driver version>". */
  name?: string;
  /** Targeting as a policy over the driver metadata; default "all". */
  hardwareIds?: "all" | HardwareIdSelection;
  /** Explicit CHID GUIDs, or every InstallationComputerHardwareIds entry of the selected INFs. */
  chids?: string[] | "allFromMetadata";
  /** Audience ids from GET /hardware/audiences (restrictedToAudiences). Windows Update only. */
  audiences?: string[];
  /** inServicePublishInfo.flooring / .ceiling. Windows Update only. */
  floor?: OsRelease;
  ceiling?: OsRelease;
  /** coEngDriverPublishInfo: co-engineering partners only; excludes floor/ceiling. */
  coEngineering?: { floorBuildNumber: string; ceilingBuildNumber?: string };
  /** ISO 8601; absent = right after certification. */
  goLiveDate?: string;
  autoInstallDuringOSUpgrade?: boolean;
  autoInstallOnApplicableSystems?: boolean;
  /** Must be the negation of (either auto-install flag); default follows them. */
  manualAcquisition?: boolean;
  isDisclosureRestricted?: boolean;
  approval?: ApprovalInfo;
  /** Seller ids (decimal strings) that may see the published driver read-only. */
  visibleToAccounts?: string[];
  /** anotherPartner: the receiver's publisher (seller) id, decimal. */
  receiverPublisherId?: string;
  enforceChidTargeting?: boolean;
  /** Expand and validate, write the request, send nothing. */
  dryRun?: boolean;
}

// ---- Wire body of POST .../shippingLabels (NewShippingLabel) ------------------------------------

export interface LabelHardwareId {
  bundleId: string;
  infId: string;
  operatingSystemCode: string;
  /** Lower-cased, as the Hardware Dev Center team recommends. */
  pnpString: string;
  distributionState?: string;
  action?: "add" | "remove";
}

export interface LabelChid {
  chid: string;
  distributionState?: string;
  action?: "add" | "remove";
}

export interface PublishingSpecifications {
  goLiveDate?: string;
  /** Seller ids; the service wants JSON numbers (SDCM #64). */
  visibleToAccounts: number[];
  isAutoInstallDuringOSUpgrade: boolean;
  isAutoInstallOnApplicableSystems: boolean;
  manualAcquisition: boolean;
  isDisclosureRestricted: boolean;
  publishToWindows10s: boolean;
  additionalInfoForMsApproval?: {
    microsoftContact: string;
    validationsPerformed: string;
    affectedOems: string[];
    isRebootRequired: boolean;
    isCoEngineered: boolean;
    isForUnreleasedHardware: boolean;
    hasUiSoftware: boolean;
    businessJustification: string;
  };
}

export interface LabelTargeting {
  hardwareIds: LabelHardwareId[];
  chids: LabelChid[];
  restrictedToAudiences: string[];
  inServicePublishInfo?: { flooring?: OsRelease; ceiling?: OsRelease };
  coEngDriverPublishInfo?: { flooringBuildNumber: string; ceilingBuildNumber?: string };
}

export interface NewShippingLabel {
  name: string;
  destination: PublishDestination;
  publishingSpecifications?: PublishingSpecifications;
  recipientSpecifications?: { receiverPublisherId: string; enforceChidTargeting: boolean };
  targeting: LabelTargeting;
}

/** PATCH .../shippingLabels/{id}: the body key is `targeting` (not `targetingInfo`). */
export interface LabelTargetingUpdate {
  hardwareIds?: (Omit<LabelHardwareId, "action"> & { action: "add" | "remove" })[];
  chids?: { chid: string; action: "add" | "remove" }[];
  /** Overwrites the label's audiences; an empty list removes them. */
  restrictedToAudiences?: string[];
}

// ---- Driver metadata (downloads item `driverMetadata`) -----------------------------------------

export interface DriverMetadataInf {
  DriverPackageFamilyId?: string;
  InfClass?: string;
  DriverVersion?: string;
  DriverDate?: string;
  /** Non-null marks an extension INF, which may only be published as an automatic update. */
  ExtensionId?: string | null;
  Provider?: string;
  ClassGuid?: string;
  /** CHIDs this INF may be targeted to. */
  InstallationComputerHardwareIds?: string[];
  /** OS code → PnP id → device facts. */
  OSPnPInfoMap?: Record<string, Record<string, { Manufacturer?: string; DeviceDescription?: string; FeatureScore?: string | null }>>;
}

export interface DriverMetadata {
  BundleInfoMap: Record<string, { Locales?: string[]; InfInfoMap?: Record<string, DriverMetadataInf> }>;
}

/** An entry of GET /hardware/audiences ("Test Registry Key", CoDev audiences, …). */
export interface Audience {
  id: string;
  name?: string;
  audienceName?: string;
  description?: string;
}

// ---- Label progress --------------------------------------------------------------------------

/**
 * What we report for a label. `creating`/`validating` precede Microsoft's decision;
 * `publishing` includes the (undocumented) gradual rollout; `cancelled` is a `failed` label whose
 * cancel we sent ourselves (the service cannot tell them apart).
 */
export type LabelPhase =
  | "creating"
  | "validating"
  | "awaitingMicrosoftApproval"
  | "publishing"
  | "published"
  | "shared"
  | "cancelled"
  | "failed";

export const TERMINAL_LABEL_PHASES: ReadonlySet<LabelPhase> = new Set(["published", "shared", "cancelled", "failed"]);

/** A label reduced to what an orchestrator decides on. No URLs. */
export interface NormalizedLabelStatus {
  phase: LabelPhase;
  currentStep: string | null;
  state: string | null;
  messages: string[];
  terminal: boolean;
  /** Microsoft Approval or gradual rollout: the only phases PUT .../cancel accepts. */
  cancellable: boolean;
  /** The label carries an errorReport (a SAS URL the activity reads; never stored). */
  hasErrorReport: boolean;
}
