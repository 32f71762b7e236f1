#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opens the report file for `--output` without letting another local user
/// aim it elsewhere. wirecheck often runs as root, and reports often go to
/// /tmp: there, a symbolic or hard link planted under the expected name
/// would make root overwrite a file of the attacker's choosing.
enum OutputFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Returns a descriptor open for writing, truncated. Refuses a symbolic
    /// link as the last path component always; in a directory others can
    /// write to, also refuses a file owned by someone else, a file with more
    /// than one link, and anything that is not a regular file.
    /// `option` names the file in messages; `mode` is a new file's.
    static func open(_ path: String, option: String = "--output", mode: mode_t = 0o644) throws(Failure) -> Int32 {
        // No O_TRUNC yet: nothing is changed until the file is known to be ours.
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode)
        guard descriptor >= 0 else {
            let code = errno
            if code == ELOOP { throw Failure(description: "\(option) \(path): is a symbolic link; refusing to follow it") }
            throw Failure(description: "\(option) \(path): \(String(cString: strerror(code)))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw Failure(description: "\(option) \(path): cannot stat the opened file")
        }
        if info.st_mode & S_IFMT != S_IFREG {
            // A pipe or /dev/stdout is fine to write to; it cannot be truncated.
            guard info.st_mode & S_IFMT == S_IFIFO || info.st_mode & S_IFMT == S_IFCHR, !isSharedDirectory(of: path) else {
                close(descriptor)
                throw Failure(description: "\(option) \(path): not a regular file")
            }
            return descriptor
        }
        if isSharedDirectory(of: path) {
            if info.st_uid != geteuid() {
                close(descriptor)
                throw Failure(description: "\(option) \(path): in a directory others can write to, and owned by another user (uid \(info.st_uid)); refusing to write to it")
            }
            if info.st_nlink > 1 {
                close(descriptor)
                throw Failure(description: "\(option) \(path): has \(info.st_nlink) hard links in a directory others can write to; refusing to write to it")
            }
        }
        guard ftruncate(descriptor, 0) == 0 else {
            close(descriptor)
            throw Failure(description: "\(option) \(path): cannot truncate (\(String(cString: strerror(errno))))")
        }
        return descriptor
    }

    /// Whether users other than the owner may create entries in the file's directory.
    static func isSharedDirectory(of path: String) -> Bool {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        var info = stat()
        guard stat(directory, &info) == 0 else { return true }
        return info.st_mode & (S_IWOTH | S_IWGRP) != 0
    }
}
