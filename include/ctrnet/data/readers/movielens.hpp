// MovieLens readers (GroupLens; Harper & Konstan, ACM TiiS 2015): ratings as interaction streams
// and the user / item side tables of ml-100k.
//   u.data        user \t item \t rating \t unix-time                       (ml-100k, no header)
//   ratings.csv   userId,movieId,rating,timestamp  (header line; ml-latest, ml-20m, ml-25m)
//   u.user        id|age|gender|occupation|zip
//   u.item        id|title|release date|video date|url|19 genre flags (0/1), latin-1 text
// A malformed line is a ctrnet::Error naming the file, line, column, offending text and what was
// expected, e.g.  u.data:17: column 'rating': expected a number in [0.5, 5], got "x"
// Blank lines are skipped. Ids are kept as they are in the files (1-based in ml-100k).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/data/readers/line_source.hpp"
#include "ctrnet/data/readers/parse_error.hpp"
#include "ctrnet/data/readers/text.hpp"

namespace ctrnet {

/// One rating: an interaction (user, item) with its value and time.
struct MovieLensRating {
  std::int64_t user = 0;
  std::int64_t item = 0;
  float rating = 0.0f;
  std::int64_t timestamp = 0;
};

struct MovieLensUser {
  std::int64_t id = 0;
  int age = 0;
  char gender = 'M';  ///< 'M' or 'F'
  std::string occupation;
  std::string zip;
};

/// The 19 ml-100k genres in u.item's column order (u.genre).
inline const std::vector<std::string>& movielens_genres() {
  static const std::vector<std::string> g{"unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                                          "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
                                          "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"};
  return g;
}

struct MovieLensItem {
  std::int64_t id = 0;
  std::string title;
  int year = 0;             ///< release year from the date column; 0 when the date is empty
  std::vector<int> genres;  ///< indices into movielens_genres() of the flags set
};

/// ML-1M's age groups: <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+ → 0..6.
inline int movielens_age_bucket(int age) {
  if (age < 18) return 0;
  if (age < 25) return 1;
  if (age < 35) return 2;
  if (age < 45) return 3;
  if (age < 50) return 4;
  if (age < 56) return 5;
  return 6;
}

namespace detail {
inline void split_fields(std::string_view line, char sep, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = line.find(sep, b);
    if (e == std::string_view::npos) {
      out.push_back(line.substr(b));
      return;
    }
    out.push_back(line.substr(b, e - b));
    b = e + 1;
  }
}

/// Reads every non-blank line of `path` (after `skip_header` lines) and calls parse(line, no).
template <class F>
void for_each_line(const std::string& path, bool skip_header, F&& parse) {
  LineSource src(path);
  LineChunk chunk;
  bool header = skip_header;
  while (src.next(chunk)) {
    for (index_t i = 0; i < chunk.size(); ++i) {
      const std::string_view line = chunk.line(i);
      if (header) {
        header = false;
        continue;
      }
      if (is_blank(line)) continue;
      parse(line, chunk.line_number(i));
    }
  }
}

inline std::int64_t ml_int(std::string_view s, const char* column, std::int64_t lo, std::int64_t hi,
                           const char* expected, const std::string& path, std::int64_t line) {
  std::int64_t v = 0;
  if (!parse_int64(trim(s), v) || v < lo || v > hi) {
    LineIssue issue;
    issue.set("bad value", column, s, expected);
    throw_line_issue(path, line, issue);
  }
  return v;
}

inline void ml_field_count(const std::vector<std::string_view>& f, std::size_t want, const char* what,
                           std::string_view line, const std::string& path, std::int64_t no) {
  if (f.size() != want) {
    LineIssue issue;
    issue.set("wrong field count", "", line, std::to_string(want) + " " + what + " fields, found " + std::to_string(f.size()));
    throw_line_issue(path, no, issue);
  }
}
}  // namespace detail

/// \brief Streams the ratings of a u.data file (tab-separated, no header) or a ratings.csv file
/// (comma-separated, header userId,movieId,rating,timestamp), chosen by the file name
/// (".csv" → ratings.csv layout). next() returns the ratings of the next chunk of lines.
class MovieLensRatingsReader {
 public:
  explicit MovieLensRatingsReader(std::string path)
      : path_(std::move(path)), csv_(path_.size() >= 4 && path_.compare(path_.size() - 4, 4, ".csv") == 0),
        src_(path_) {}

  const std::string& path() const { return path_; }
  bool csv() const { return csv_; }

  /// Replaces `out` with the ratings of the next chunk; false when the file is exhausted.
  bool next(std::vector<MovieLensRating>& out) {
    out.clear();
    while (out.empty()) {
      if (!src_.next(chunk_)) return false;
      for (index_t i = 0; i < chunk_.size(); ++i) {
        const std::string_view line = chunk_.line(i);
        const std::int64_t no = chunk_.line_number(i);
        if (csv_ && no == 1) {
          check_header(line);
          continue;
        }
        if (detail::is_blank(line)) continue;
        out.push_back(parse(line, no));
      }
    }
    return true;
  }

  /// Every rating of the file.
  std::vector<MovieLensRating> read_all() {
    std::vector<MovieLensRating> all, part;
    while (next(part)) all.insert(all.end(), part.begin(), part.end());
    return all;
  }

 private:
  void check_header(std::string_view line) {
    if (detail::trim(line) != "userId,movieId,rating,timestamp") {
      LineIssue issue;
      issue.set("bad header", "", line, "the header \"userId,movieId,rating,timestamp\"");
      throw_line_issue(path_, 1, issue);
    }
  }
  MovieLensRating parse(std::string_view line, std::int64_t no) {
    detail::split_fields(line, csv_ ? ',' : '\t', fields_);
    detail::ml_field_count(fields_, 4, csv_ ? "comma-separated" : "tab-separated", line, path_, no);
    MovieLensRating r;
    const std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    r.user = detail::ml_int(fields_[0], csv_ ? "userId" : "user", 1, kMax, "a positive integer user id", path_, no);
    r.item = detail::ml_int(fields_[1], csv_ ? "movieId" : "item", 1, kMax, "a positive integer item id", path_, no);
    float v = 0;
    if (!detail::parse_float(detail::trim(fields_[2]), v) || v < 0.5f || v > 5.0f) {
      LineIssue issue;
      issue.set("bad rating", "rating", fields_[2], "a number in [0.5, 5]");
      throw_line_issue(path_, no, issue);
    }
    r.rating = v;
    r.timestamp = detail::ml_int(fields_[3], "timestamp", 0, kMax, "a unix time (non-negative integer)", path_, no);
    return r;
  }

  std::string path_;
  bool csv_;
  LineSource src_;
  LineChunk chunk_;
  std::vector<std::string_view> fields_;
};

/// u.user → users in file order.
inline std::vector<MovieLensUser> read_movielens_users(const std::string& path) {
  std::vector<MovieLensUser> users;
  std::vector<std::string_view> f;
  detail::for_each_line(path, false, [&](std::string_view line, std::int64_t no) {
    detail::split_fields(line, '|', f);
    detail::ml_field_count(f, 5, "'|'-separated", line, path, no);
    MovieLensUser u;
    u.id = detail::ml_int(f[0], "id", 1, std::numeric_limits<std::int64_t>::max(), "a positive integer user id", path, no);
    u.age = static_cast<int>(detail::ml_int(f[1], "age", 0, 150, "an age in years (0 to 150)", path, no));
    if (f[2] != "M" && f[2] != "F") {
      LineIssue issue;
      issue.set("bad gender", "gender", f[2], "M or F");
      throw_line_issue(path, no, issue);
    }
    u.gender = f[2][0];
    if (detail::trim(f[3]).empty()) {
      LineIssue issue;
      issue.set("bad occupation", "occupation", f[3], "an occupation name");
      throw_line_issue(path, no, issue);
    }
    u.occupation.assign(detail::trim(f[3]));
    u.zip.assign(f[4]);
    users.push_back(std::move(u));
  });
  return users;
}

/// u.item → items in file order.
inline std::vector<MovieLensItem> read_movielens_items(const std::string& path) {
  std::vector<MovieLensItem> items;
  std::vector<std::string_view> f;
  const std::size_t ng = movielens_genres().size();
  detail::for_each_line(path, false, [&](std::string_view line, std::int64_t no) {
    detail::split_fields(line, '|', f);
    detail::ml_field_count(f, 5 + ng, "'|'-separated", line, path, no);
    MovieLensItem it;
    it.id = detail::ml_int(f[0], "id", 1, std::numeric_limits<std::int64_t>::max(), "a positive integer item id", path, no);
    it.title.assign(f[1]);
    const std::string_view date = detail::trim(f[2]);  // dd-Mon-yyyy or empty
    if (!date.empty()) {
      std::int64_t y = 0;
      if (date.size() < 4 || !detail::parse_int64(date.substr(date.size() - 4), y) || y < 1800 || y > 2100) {
        LineIssue issue;
        issue.set("bad date", "release date", f[2], "a date dd-Mon-yyyy or nothing");
        throw_line_issue(path, no, issue);
      }
      it.year = static_cast<int>(y);
    }
    for (std::size_t g = 0; g < ng; ++g) {
      const std::string_view flag = f[5 + g];
      if (flag != "0" && flag != "1") {
        LineIssue issue;
        issue.set("bad genre flag", movielens_genres()[g], flag, "a genre flag 0 or 1");
        throw_line_issue(path, no, issue);
      }
      if (flag == "1") it.genres.push_back(static_cast<int>(g));
    }
    items.push_back(std::move(it));
  });
  return items;
}

/// \brief ml-100k in memory: ratings, users and items of a folder with u.data, u.user, u.item.
struct MovieLens100k {
  std::vector<MovieLensRating> ratings;
  std::vector<MovieLensUser> users;
  std::vector<MovieLensItem> items;
};

/// Reads `dir`/u.data, u.user and u.item; every rating's user and item must appear in the tables.
inline MovieLens100k load_movielens_100k(const std::string& dir) {
  MovieLens100k ml;
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  ml.ratings = MovieLensRatingsReader(base + "u.data").read_all();
  ml.users = read_movielens_users(base + "u.user");
  ml.items = read_movielens_items(base + "u.item");
  std::int64_t max_user = 0, max_item = 0;
  for (const auto& u : ml.users) max_user = std::max(max_user, u.id);
  for (const auto& i : ml.items) max_item = std::max(max_item, i.id);
  std::vector<char> has_user(static_cast<std::size_t>(max_user + 1), 0), has_item(static_cast<std::size_t>(max_item + 1), 0);
  for (const auto& u : ml.users) has_user[static_cast<std::size_t>(u.id)] = 1;
  for (const auto& i : ml.items) has_item[static_cast<std::size_t>(i.id)] = 1;
  for (std::size_t r = 0; r < ml.ratings.size(); ++r) {
    const auto& x = ml.ratings[r];
    CTRNET_CHECK(x.user <= max_user && has_user[static_cast<std::size_t>(x.user)], "u.data: rating ", r + 1, " names user ",
                 x.user, ", which u.user does not list");
    CTRNET_CHECK(x.item <= max_item && has_item[static_cast<std::size_t>(x.item)], "u.data: rating ", r + 1, " names item ",
                 x.item, ", which u.item does not list");
  }
  return ml;
}

}  // namespace ctrnet
