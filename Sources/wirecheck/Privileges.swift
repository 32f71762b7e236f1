#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// wirecheck parses attacker-controlled bytes; as root it only needs to open
/// the capture socket. After that it runs as an unprivileged user, like
/// tcpdump (`-Z`), so a parsing bug cannot hand out root.
enum Privileges {
    /// The user tcpdump drops to on Debian; used by default when it exists.
    static let defaultUser = "tcpdump"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The user to become: `-Z USER` if given (`root` keeps root), else the
    /// default user when running as root and it exists, else nobody to switch to.
    static func target(requested: String?) -> String? {
        guard geteuid() == 0 else { return nil }
        if let requested { return requested == "root" ? nil : requested }
        return getpwnam(defaultUser) != nil ? defaultUser : nil
    }

    /// Becomes `user`: supplementary groups, group, then user; and checks that
    /// root cannot be regained.
    static func drop(to user: String) throws(Failure) {
        guard let entry = getpwnam(user) else { throw Failure(description: "-Z \(user): no such user") }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        guard initgroups(user, gid) == 0 else { throw Failure(description: "-Z \(user): cannot set groups (errno \(errno))") }
        guard setgid(gid) == 0, setegid(gid) == 0 else { throw Failure(description: "-Z \(user): cannot set group \(gid) (errno \(errno))") }
        guard setuid(uid) == 0 else { throw Failure(description: "-Z \(user): cannot set user \(uid) (errno \(errno))") }
        if uid != 0, setuid(0) == 0 {
            throw Failure(description: "-Z \(user): root could be regained after dropping privileges")
        }
    }
}
