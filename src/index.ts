/** The app's entry (package.json "main"): importing each module registers its functions with the host. */
import "./functions/httpStreaming";
import "./orchestrators/submitDriver";
import "./orchestrators/signPreproduction";
import "./orchestrators/publishLabel";
import "./orchestrators/changeLabel";
import "./functions/activities";
import "./functions/packageDropped";
import "./functions/startSubmission";
import "./functions/submissionStatus";
import "./functions/cancelSubmission";
import "./functions/uploads";
import "./functions/submissionFiles";
import "./functions/retention";
import "./functions/notifications";
import "./functions/dashboard";
import "./functions/labels";
import "./functions/auditLog";
