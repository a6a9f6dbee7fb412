package sbom

import (
	"crypto/sha256"
	"fmt"
)

// serialNumber is a urn:uuid derived from the document's content (its encoding without a
// serial number): the same SBOM always has the same serial, a different one another. The
// UUID is version 8 (RFC 9562's custom format, its example being a SHA-256 name-based UUID)
// with the first 16 bytes of the SHA-256.
func serialNumber(content []byte) string {
	sum := sha256.Sum256(content)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
